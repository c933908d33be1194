-- global section
admins = { "focus@auth.meet.example.test", 'jvb@auth.meet.example.test' }
component_admins_as_room_owners = true
unlimited_jids = { "focus@auth.meet.example.test", "jvb@auth.meet.example.test" };
plugin_paths = { "/usr/share/jitsi-meet/prosody-plugins/" }
muc_mapper_domain_base = "meet.example.test";
muc_mapper_domain_prefix = "conference";
http_default_host = "meet.example.test"
http_ports = { 5280 }
c2s_ports = { 5222 }
c2s_require_encryption = true
consider_bosh_secure = true;
consider_websocket_secure = true;
cross_domain_bosh = false;
smacks_max_unacked_stanzas = 5;
smacks_hibernation_time = 60;
smacks_max_old_sessions = 1;
storage = { smacks_h = "memory" }
external_service_secret = "turn-shared-secret-for-tests";
external_services = {
    { type = "stun", host = "turn.meet.example.test", port = 3478 },
    { type = "turn", host = "turn.meet.example.test", port = 3478, transport = "udp",
      secret = true, ttl = 86400, algorithm = "turn" },
    { type = "turns", host = "turn.meet.example.test", port = 5349, transport = "tcp",
      secret = true, ttl = 86400, algorithm = "turn" };
}
modules_enabled = { "roster"; "saslauth"; "tls"; "disco"; "ping"; "limits"; "external_services" }
modules_disabled = { "offline"; "register"; "s2s" }

VirtualHost "meet.example.test"
    authentication = "token" -- anonymous login, JWT required
    app_id = "example_app"
    app_secret = "example_secret_for_hs256"
    asap_accepted_issuers = { "example_app", "other_issuer" }
    asap_accepted_audiences = { "jitsi" }
    allow_empty_token = false
    enable_domain_verification = true
    ssl = {
        key = "/etc/prosody/certs/meet.example.test.key";
        certificate = "/etc/prosody/certs/meet.example.test.crt";
    }
    modules_enabled = {
        "bosh";
        "websocket";
        "smacks";
        "ping";
        "features_identity";
        "conference_duration";
        "muc_lobby_rooms";
        "muc_breakout_rooms";
        "presence_identity";
    }
    main_muc = "conference.meet.example.test"
    lobby_muc = "lobby.meet.example.test"
    breakout_rooms_muc = "breakout.meet.example.test"
    muc_lobby_whitelist = { "recorder.meet.example.test" }
    c2s_require_encryption = false

VirtualHost "guest.meet.example.test"
    authentication = "jitsi-anonymous"
    modules_enabled = { "smacks" }
    main_muc = "conference.meet.example.test"
    c2s_require_encryption = false

VirtualHost "auth.meet.example.test"
    authentication = "internal_hashed"
    modules_enabled = { "limits_exception", "smacks" }
    smacks_hibernation_time = 15;

VirtualHost "jigasi.example.invalid"
    enabled = false -- must parse, must not start
    authentication = "token"
    app_id = "jitsi"
    asap_key_server = "https://keys.example.invalid/prod"

Component "conference.meet.example.test" "muc"
    storage = "memory"
    restrict_room_creation = true
    modules_enabled = {
        "muc_hide_all";
        "muc_meeting_id";
        "muc_domain_mapper";
        "token_verification";
        "muc_rate_limit";
        "muc_password_whitelist";
        "polls";
    }
    admins = { "focus@auth.meet.example.test" }
    muc_password_whitelist = { "focus@auth.meet.example.test" }
    token_verification_allowlist = { "recorder.meet.example.test" }
    muc_room_locking = false
    muc_room_default_public_jids = true
    muc_room_cache_size = 10000
    muc_tombstones = false
    muc_room_allow_persistent = false
    muc_max_occupants = 100
    muc_access_whitelist = { "focus@auth.meet.example.test" }

Component "internal.auth.meet.example.test" "muc"
    storage = "memory"
    restrict_room_creation = true
    modules_enabled = { "muc_hide_all"; "muc_filter_access"; "ping" }
    muc_filter_whitelist = "auth.meet.example.test"
    admins = { "focus@auth.meet.example.test", "jvb@auth.meet.example.test" }
    muc_room_locking = false
    muc_room_default_public_jids = true

Component "lobby.meet.example.test" "muc"
    storage = "memory"
    restrict_room_creation = true
    muc_room_locking = false
    muc_room_default_public_jids = true
    modules_enabled = { "muc_hide_all", "muc_rate_limit" }

Component "breakout.meet.example.test" "muc"
    storage = "memory"
    restrict_room_creation = true
    muc_room_locking = false
    muc_room_default_public_jids = true
    modules_enabled = { "muc_hide_all"; "muc_meeting_id"; "muc_domain_mapper"; "polls" }

Component "focus.meet.example.test" "client_proxy"
    target_address = "focus@auth.meet.example.test"

Component "speakerstats.meet.example.test" "speakerstats_component"
    muc_component = "conference.meet.example.test"

Component "avmoderation.meet.example.test" "av_moderation_component"
    muc_component = "conference.meet.example.test"

Component "endconference.meet.example.test" "end_conference"
    muc_component = "conference.meet.example.test"

Component "metadata.meet.example.test" "room_metadata_component"
    muc_component = "conference.meet.example.test"
    breakout_rooms_component = "breakout.meet.example.test"
