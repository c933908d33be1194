-- End-to-end suite (e2e/): a plain deployment with an anonymous host and
-- an account host, over TCP, WebSocket and BOSH, and a MUC service.
-- Placeholders in double braces are filled in by e2e/lib/parley.js.

interfaces = { "127.0.0.1" }
c2s_ports = { {{C2S_PORT}} }
component_ports = { {{COMPONENT_PORT}} }
http_ports = { {{HTTP_PORT}} }
data_path = "{{DATA_DIR}}"
-- HTTP requests to 127.0.0.1 are served as this host (Jitsi sets it to the
-- main domain, since nginx forwards the public Host).
http_default_host = "e2e.test"
debug = ENV_PARLEY_E2E_DEBUG == "1"

-- No certificates here: everything is plain on loopback.
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
consider_websocket_secure = true
consider_bosh_secure = true

smacks_hibernation_time = 30
-- Fewer SCRAM rounds than Prosody's 10000 keep the pure-JS clients quick.
default_iteration_count = 4096

VirtualHost "anon.e2e.test"
    authentication = "anonymous"
    modules_enabled = { "websocket", "bosh", "smacks" }

VirtualHost "e2e.test"
    authentication = "internal_hashed"
    modules_enabled = { "websocket", "bosh", "smacks" }

Component "conference.e2e.test" "muc"
    muc_room_locking = false
    muc_room_default_public_jids = true
