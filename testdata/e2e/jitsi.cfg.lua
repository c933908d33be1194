-- End-to-end suite (e2e/): a Jitsi Meet deployment in the Debian/Docker
-- shape (JITSI.md §1), with parley's dev focus in place of Jicofo's
-- client_proxy. Token logins on the main host, guests on guest.*,
-- accounts on auth.*. Placeholders in double braces are filled in by
-- e2e/lib/parley.js.

interfaces = { "127.0.0.1" }
c2s_ports = { {{C2S_PORT}} }
component_ports = { {{COMPONENT_PORT}} }
http_ports = { {{HTTP_PORT}} }
data_path = "{{DATA_DIR}}"
debug = ENV_PARLEY_E2E_DEBUG == "1"
http_default_host = "meet.e2e.test"

-- The dev focus is focus@<its component>, and like Jicofo it is an admin.
admins = { "focus@focus.meet.e2e.test" }
component_admins_as_room_owners = true
muc_mapper_domain_base = "meet.e2e.test"

c2s_require_encryption = false
consider_websocket_secure = true
consider_bosh_secure = true
smacks_max_unacked_stanzas = 5
smacks_hibernation_time = 30
default_iteration_count = 4096

VirtualHost "meet.e2e.test"
    authentication = "token"
    app_id = "e2e_app"
    app_secret = "e2e-secret-for-tests-only"
    allow_empty_token = false
    enable_domain_verification = false
    modules_enabled = { "bosh", "websocket", "smacks", "ping" }
    main_muc = "conference.meet.e2e.test"

VirtualHost "guest.meet.e2e.test"
    authentication = "jitsi-anonymous"
    modules_enabled = { "bosh", "websocket", "smacks", "ping" }
    main_muc = "conference.meet.e2e.test"

VirtualHost "auth.meet.e2e.test"
    authentication = "internal_hashed"

Component "conference.meet.e2e.test" "muc"
    modules_enabled = { "muc_hide_all", "muc_meeting_id", "token_verification", "muc_password_whitelist" }
    restrict_room_creation = true
    muc_room_locking = false
    muc_room_default_public_jids = true
    muc_password_whitelist = { "focus@focus.meet.e2e.test" }

Component "internal.auth.meet.e2e.test" "muc"
    modules_enabled = { "muc_hide_all" }
    muc_room_locking = false
    muc_room_default_public_jids = true

-- Development and testing only: Jicofo's signalling without media.
Component "focus.meet.e2e.test" "dev_focus"
    dev_focus_owner = "authenticated"
