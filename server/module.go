package server

import (
	"context"
)

// Module is a feature that a host loads when its modules_enabled names it.
// Modules are registered on the Server with WithModules; there is no global
// registry.
type Module interface {
	// Name is the Prosody module name without "mod_", e.g. "bosh".
	Name() string
	// Load wires the module into one host: hooks, IQ handlers, features.
	Load(ctx context.Context, h *Host) error
}

// ServerModule is an optional interface for modules that also need a
// process-wide part (HTTP routes, listeners), set up once before any host
// loads the module.
type ServerModule interface {
	Module
	LoadServer(ctx context.Context, srv *Server) error
}

// Stopper is an optional interface for modules that hold resources.
type Stopper interface {
	Stop(ctx context.Context) error
}

// builtinModules are Prosody modules whose behaviour the core always
// provides, so naming them in modules_enabled is fine and silent.
var builtinModules = map[string]bool{
	"roster": true, "saslauth": true, "tls": true, "disco": true, "ping": true,
	"version": true, "time": true, "uptime": true, "posix": true, "c2s": true,
	"component": true, "auth_internal_hashed": true, "auth_internal_plain": true,
	"auth_anonymous": true, "http_openmetrics": true, "smacks": true, "limits": true,
	"limits_exception": true, "jitsi_session": true,
	"presence": true, "message": true, "iq": true,
}

// ignoredModules are Prosody and Jitsi modules parley does not implement,
// with the reason given at start-up.
var ignoredModules = map[string]string{
	"dialback":                "server-to-server is not supported",
	"s2s":                     "server-to-server is not supported",
	"s2s_auth_certs":          "server-to-server is not supported",
	"register":                "in-band registration is not supported; use parley register",
	"admin_adhoc":             "ad-hoc admin commands are not supported",
	"admin_shell":             "the admin shell is not supported",
	"admin_telnet":            "the admin console is not supported",
	"private":                 "private XML storage is not supported yet",
	"vcard_legacy":            "vCard is not supported yet",
	"vcard":                   "vCard is not supported yet",
	"carbons":                 "message carbons are not supported yet",
	"pep":                     "PEP is not supported yet",
	"blocklist":               "blocking is not supported yet",
	"mam":                     "message archiving is not supported",
	"offline":                 "offline messages are not supported",
	"announce":                "announcements are not supported",
	"welcome":                 "welcome messages are not supported",
	"watchregistrations":      "registration notices are not supported",
	"motd":                    "message of the day is not supported",
	"legacyauth":              "XEP-0078 is obsolete",
	"groups":                  "shared roster groups are not supported",
	"http_files":              "static file serving is not supported",
	"proxy65":                 "SOCKS5 bytestreams are not supported",
	"server_contact_info":     "contact info is not supported yet",
	"lastactivity":            "last activity is not supported",
	"csi":                     "client state indication is not supported yet",
	"csi_simple":              "client state indication is not supported yet",
	"cloud_notify":            "push notifications are not supported",
	"account_activity":        "account activity is not supported",
	"bookmarks":               "bookmarks are not supported",
	"mimicking":               "mimicking protection is not supported",
	"tombstones":              "tombstones are not supported",
	"invites":                 "invites are not supported",
	"user_account_management": "in-band account management is not supported",
	"http_openmetrics":        "metrics are served on the HTTP port's /metrics",
	"limits":                  "parley applies fixed stanza size limits",
}
