-- bench/compare renders this one file for every server under test, so
-- Prosody and parley run with the same hosts and options; only the ports,
-- paths and the lines marked "Prosody only" differ. Loopback only, no TLS
-- (both servers are told PLAIN is fine in the clear), file storage.
-- Instance: {{.Name}}

{{- if .Prosody}}
-- Prosody only: allow running as root from the script, where the pid
-- goes, and a listen backlog as deep as Go's (somaxconn) so connection
-- storms do not hit SYN retries on one side only.
run_as_root = true
pidfile = "{{.Dir}}/prosody.pid"
network_settings = { tcp_backlog = 4096 }
{{- end}}

data_path = "{{.Dir}}/data"
storage = "internal"
log = { {{.LogLevel}} = "{{.Dir}}/server.log" }

interfaces = { "127.0.0.1" }
c2s_ports = { {{.C2S}} }
http_ports = { {{.HTTP}} }
http_interfaces = { "127.0.0.1" }
https_ports = { }
s2s_ports = { }
component_ports = { }

-- What a Jitsi deployment loads for clients, minus TLS.
modules_enabled = { "roster", "saslauth", "disco", "ping", "smacks", "bosh", "websocket" }
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
consider_websocket_secure = true
consider_bosh_secure = true

-- Password accounts (created before the run with prosodyctl register or
-- parley register).
VirtualHost "{{.Domain}}"
    authentication = "internal_hashed"

-- Jitsi's guests: SASL ANONYMOUS.
VirtualHost "{{.AnonDomain}}"
    authentication = "anonymous"

{{- if not .Prosody}}

-- parley only: Jitsi token logins (JWT in the URL, SASL ANONYMOUS).
-- Debian's Prosody has no mod_auth_token (Jitsi ships it), so the tokens
-- case runs on parley alone.
VirtualHost "{{.TokenDomain}}"
    authentication = "token"
    app_id = "{{.TokenIssuer}}"
    app_secret = "{{.TokenSecret}}"
{{- end}}

Component "{{.MUC}}" "muc"
    -- Jitsi's setting: a new room is usable at once, no owner config.
    muc_room_locking = false
