-- `parley dev`: a Jitsi Meet signalling plane on localhost for trying
-- clients, with parley's development focus in place of Jicofo (no media).
-- Development and testing only. Accounts and rooms live in memory.
-- http://127.0.0.1:5280/ is a lib-jitsi-meet page (module dev_page) that
-- joins a meeting: open it in two tabs.

interfaces = { "127.0.0.1" }
c2s_ports = { Lua.tonumber(ENV_PARLEY_C2S_PORT) or 5222 }
component_ports = { Lua.tonumber(ENV_PARLEY_COMPONENT_PORT) or 5347 }
http_ports = { Lua.tonumber(ENV_PARLEY_HTTP_PORT) or 5280 }
storage = "memory"
http_default_host = "localhost"
c2s_require_encryption = false
consider_websocket_secure = true
consider_bosh_secure = true

-- The dev page loads https://meet.jit.si/libs/lib-jitsi-meet.min.js unless
-- the environment variable PARLEY_DEV_LJM names a local bundle (served at
-- /libs/lib-jitsi-meet.min.js); PARLEY_DEV_JQUERY names a jQuery build for
-- bundles that take jQuery from the page (served at /libs/jquery.min.js).
-- Ports: PARLEY_C2S_PORT, PARLEY_HTTP_PORT, PARLEY_COMPONENT_PORT.
dev_page_lib_jitsi_meet = ENV_PARLEY_DEV_LJM
dev_page_jquery = ENV_PARLEY_DEV_JQUERY

-- The dev focus is focus@<its component> and, like Jicofo, an admin.
admins = { "focus@focus.localhost" }
component_admins_as_room_owners = true

VirtualHost "localhost"
    authentication = "jitsi-anonymous"
    modules_enabled = { "bosh", "websocket", "smacks", "ping", "dev_page" }
    main_muc = "conference.localhost"

Component "conference.localhost" "muc"
    modules_enabled = { "muc_meeting_id" }
    muc_room_locking = false
    muc_room_default_public_jids = true

Component "internal.auth.localhost" "muc"
    muc_room_locking = false

-- The first participant of a room becomes its moderator.
Component "focus.localhost" "dev_focus"
    dev_focus_owner = "auto"
