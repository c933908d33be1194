-- parley's built-in configuration, used when no --config is given and
-- /etc/prosody/prosody.cfg.lua does not exist: a Jitsi-shaped deployment
-- on localhost. Accounts live in memory and are lost on exit.

-- Ports can be moved with environment variables, e.g. PARLEY_C2S_PORT=0.
interfaces = { "127.0.0.1" }
c2s_ports = { Lua.tonumber(ENV_PARLEY_C2S_PORT) or 5222 }
component_ports = { Lua.tonumber(ENV_PARLEY_COMPONENT_PORT) or 5347 }
http_ports = { Lua.tonumber(ENV_PARLEY_HTTP_PORT) or 5280 }
storage = "memory"
c2s_require_encryption = false
-- HTTP requests whose Host header names no VirtualHost (127.0.0.1:5280) go here.
http_default_host = "localhost"
allow_unencrypted_plain_auth = true

-- Browsers join anonymously on the main host, as in Jitsi's default setup.
VirtualHost "localhost"
    authentication = "anonymous"
    modules_enabled = { "bosh", "websocket", "ping", "speakerstats", "conference_duration" }
    main_muc = "conference.localhost"

-- Jicofo and the videobridge log in here.
VirtualHost "auth.localhost"
    authentication = "internal_hashed"

-- Joins and leaves of each room are paced (Jitsi's muc_rate_limit: 3 joins
-- and 5 leaves per second, queued, never dropped), as in Jitsi's own configs.
Component "conference.localhost" "muc"
    modules_enabled = { "muc_rate_limit" }
Component "internal.auth.localhost" "muc"
