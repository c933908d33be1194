package main

import (
	"log/slog"
	"sort"

	"github.com/parley-xmpp/parley/config"
)

// usedOptions are the config options parley reads. Anything else in a
// Prosody config is listed once at start-up as ignored.
var usedOptions = map[string]bool{
	// core
	"interfaces": true, "c2s_ports": true, "c2s_interfaces": true, "c2s_direct_tls_ports": true,
	"c2s_direct_tls_interfaces": true, "legacy_ssl_ports": true, "component_ports": true,
	"component_interfaces": true, "component_secret": true, "http_ports": true, "http_interfaces": true, "https_ports": true, "https_interfaces": true,
	"ssl": true, "certificates": true, "c2s_require_encryption": true, "require_encryption": true,
	"authentication": true, "password_hash": true, "default_iteration_count": true,
	"allow_unencrypted_plain_auth": true, "storage": true, "data_path": true, "c2s_stanza_size_limit": true,
	"log": true, "debug": true, "modules_enabled": true, "modules_disabled": true, "enabled": true,
	"admins": true, "component_stanza_size_limit": true, "limits": true, "unlimited_jids": true,
	"unlimited_size": true, "smacks_hibernation_time": true, "smacks_max_unacked_stanzas": true,
	"smacks_max_queue_size": true,
	// transports (bosh, websocket, httpx)
	"http_paths": true, "http_default_host": true, "consider_bosh_secure": true,
	"consider_websocket_secure": true, "access_control_allow_origins": true,
	"access_control_allow_methods": true, "access_control_allow_headers": true,
	"access_control_allow_credentials": true, "access_control_max_age": true, "trusted_proxies": true,
	"bosh_max_inactivity": true, "bosh_max_polling": true, "bosh_max_wait": true,
	"http_max_content_size": true, "websocket_get_response_text": true, "websocket_get_response_body": true,
	"region_header_name": true, "http_health_allow_ips": true, "http_health_allow_cidr": true,
	"cross_domain_bosh": true, "cross_domain_websocket": true,
	// muc and the Jitsi MUC modules
	"restrict_room_creation": true, "component_admins_as_room_owners": true, "muc_room_locking": true,
	"muc_room_default_public": true, "muc_room_default_persistent": true, "muc_room_default_members_only": true,
	"muc_room_default_moderated": true, "muc_room_default_public_jids": true, "muc_room_default_change_subject": true,
	"muc_room_default_history_length": true, "muc_room_default_language": true, "muc_tombstones": true,
	"muc_tombstone_expiry": true, "max_history_messages": true, "muc_max_occupants": true,
	"muc_access_whitelist": true, "muc_password_whitelist": true, "muc_rate_joins": true,
	"muc_rate_leaves": true, "muc_room_default_allow_query_users": true,
	"muc_limit_messages_count": true, "muc_limit_messages_check_token": true, "muc_hide_all": true, "main_muc": true, "muc_mapper_domain_base": true,
	"muc_mapper_domain_prefix": true, "muc_mapper_domain": true, "dev_focus_owner": true, "dev_focus_brewery": true,
	"dev_page_lib_jitsi_meet": true, "dev_page_jquery": true,
	"muc_room_allow_persistent": true, "openmetrics_allow_ips": true, "openmetrics_allow_cidr": true,
	// Jitsi components and host modules
	"lobby_muc": true, "breakout_rooms_muc": true, "breakout_rooms_component": true, "muc_component": true,
	"muc_lobby_whitelist": true, "muc_lobby_check_display_name_required": true, "muc_filter_whitelist": true,
	"anonymous_strict": true, "anonymous_auth_methods": true, "jitsi_default_permissions": true,
	"conference_duration_component": true, "external_service_access": true, "external_service_host": true,
	"external_service_port": true, "region_name": true, "release_number": true, "shard_name": true,
	// token auth
	"app_id": true, "app_secret": true, "asap_key_server": true, "cache_keys_url": true,
	"signature_algorithm": true, "allow_empty_token": true, "asap_accepted_issuers": true,
	"asap_accepted_audiences": true, "asap_require_room_claim": true, "enable_domain_verification": true,
	"jwt_pubkey_cache_size": true, "token_verification_allowlist": true,
	"token_verification_require_token_for_moderation": true, "token_require_exp": true, "token_leeway": true,
	// other Jitsi modules
	"target_address": true, "external_services": true, "external_service_secret": true,
	"external_service_ttl": true, "turncredentials": true, "turncredentials_secret": true,
	"turncredentials_ttl": true, "enable_roomsize_token_verification": true,
	// Jitsi rate_limit
	"rate_limit_login_rate": true, "rate_limit_session_rate": true, "rate_limit_timeout": true,
	"rate_limit_whitelist": true, "rate_limit_whitelist_jids": true, "rate_limit_cache_size": true,
	"rate_limit_presence_rate": true, "rate_limit_iq_rate": true, "rate_limit_message_rate": true,
	"rate_limit_ip_rate": true, "rate_limit_whitelist_hosts": true,
	// parley's own
	"parley_max_connections_per_ip": true, "parley_connection_limit_exempt": true,
	"parley_session_rate": true, "parley_ip_rate": true,
	// accepted for compatibility, meaningless for a foreground Go binary
	"pidfile": true, "daemonize": true, "run_as_root": true, "plugin_paths": true,
}

// reportIgnoredOptions logs, once, each option parley does not use.
func reportIgnoredOptions(cfg *config.Config, log *slog.Logger, extra func(string) bool) {
	unused := cfg.Unused(func(key string) bool { return usedOptions[key] || (extra != nil && extra(key)) })
	sort.SliceStable(unused, func(i, j int) bool { return unused[i].Name < unused[j].Name })
	seen := map[string]bool{}
	for _, o := range unused {
		if seen[o.Name] {
			continue
		}
		seen[o.Name] = true
		log.Info("config option ignored: not used by parley", "option", o.Name, "pos", o.Pos.String())
	}
}
