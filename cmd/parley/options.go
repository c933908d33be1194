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
	"component_interfaces": true, "component_secret": true, "http_ports": true, "http_interfaces": true,
	"ssl": true, "certificates": true, "c2s_require_encryption": true, "require_encryption": true,
	"authentication": true, "password_hash": true, "default_iteration_count": true,
	"allow_unencrypted_plain_auth": true, "storage": true, "data_path": true, "c2s_stanza_size_limit": true,
	"log": true, "debug": true, "modules_enabled": true, "modules_disabled": true, "enabled": true,
	"admins": true, "component_stanza_size_limit": true, "limits": true, "unlimited_jids": true,
	"unlimited_size": true, "smacks_hibernation_time": true, "smacks_max_unacked_stanzas": true,
	"smacks_max_queue_size": true,
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
