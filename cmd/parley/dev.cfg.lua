-- `parley dev`: a Jitsi Meet signalling plane on localhost for trying
-- clients, with parley's development focus in place of Jicofo (no media).
-- Development and testing only. Accounts and rooms live in memory.

interfaces = { "127.0.0.1" }
c2s_ports = { Lua.tonumber(ENV_PARLEY_C2S_PORT) or 5222 }
component_ports = { Lua.tonumber(ENV_PARLEY_COMPONENT_PORT) or 5347 }
http_ports = { Lua.tonumber(ENV_PARLEY_HTTP_PORT) or 5280 }
storage = "memory"
http_default_host = "localhost"
c2s_require_encryption = false
consider_websocket_secure = true
consider_bosh_secure = true

-- The dev focus is focus@<its component> and, like Jicofo, an admin.
admins = { "focus@focus.localhost" }
component_admins_as_room_owners = true

VirtualHost "localhost"
    authentication = "jitsi-anonymous"
    modules_enabled = { "bosh", "websocket", "smacks", "ping" }
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
