package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/parley-xmpp/parley/server"
)

// This file turns docker-jitsi-meet's environment variables into the
// Prosody configuration its prosody image renders from them
// (prosody/rootfs/defaults/prosody.cfg.lua and conf.d/*.cfg.lua), with the
// same names and defaults, plus the service accounts its register-setup
// script creates and the certificates its config script generates. The
// result is ordinary Prosody config text, so everything downstream is the
// normal config path.
//
// Deliberate differences from the image:
//   - options that only tune Lua Prosody (gc, network_backend,
//     network_settings, unbound, pidfile, plugin_paths, s2s_secure_auth)
//     are not written;
//   - certificates = <certificates directory> is written: Prosody finds
//     them next to its config file (/run/prosody/config/certs), a rendered
//     config has no file;
//   - PARLEY_DATA_PATH and PARLEY_CERTS_DIR move data_path and the
//     certificates (defaults /var/lib/prosody/data, /run/prosody/config/certs);
//   - XMPP_RECORDER_DOMAIN is the fallback of XMPP_HIDDEN_DOMAIN in the
//     rendered hosts too (the image applies it only to the accounts and
//     certificates, after rendering);
//   - a variable the template prints without a default (JWT_APP_ID) is
//     empty when unset instead of "<no value>";
//   - PROSODY_ADMINS is not written: the site file of every mode parley
//     serves replaces prosody.cfg.lua's admins anyway;
//   - domain variables must be valid, canonical XMPP domains, and numbers
//     the template prints unquoted must be numbers (errors, not a broken
//     Lua file);
//   - authentication types parley does not have (ldap, matrix,
//     hybrid_matrix_token) and PROSODY_MODE=visitors are errors.

// Defaults of the docker-jitsi-meet prosody image.
const (
	dockerDataPath = "/var/lib/prosody/data"
	dockerCertsDir = "/run/prosody/config/certs"
)

// dockerAccount is a service account the image creates at start-up
// (prosodyctl shell user create).
type dockerAccount struct {
	User, Host, Password string
}

// dockerCert is a certificate the image generates (self-signed) when the
// files do not exist.
type dockerCert struct {
	Host, CertFile, KeyFile string
}

// dockerSetup is the result of dockerEnvConfig.
type dockerSetup struct {
	// Config is Prosody configuration text.
	Config string
	// Accounts are the service accounts to create or update.
	Accounts []dockerAccount
	// Certificates are the certificates to generate when missing.
	Certificates []dockerCert
	// Warnings report settings parley cannot honour.
	Warnings []string
}

// dockerTriggers are the variables whose presence (non-empty) means the
// process runs as docker-jitsi-meet's prosody container.
func dockerTriggers() []string {
	return []string{
		"XMPP_DOMAIN", "XMPP_AUTH_DOMAIN", "XMPP_MUC_DOMAIN", "XMPP_INTERNAL_MUC_DOMAIN",
		"XMPP_GUEST_DOMAIN", "XMPP_RECORDER_DOMAIN", "XMPP_HIDDEN_DOMAIN", "XMPP_PORT",
		"JICOFO_AUTH_PASSWORD", "JVB_AUTH_PASSWORD", "PROSODY_MODE", "PROSODY_HTTP_PORT",
		"ENABLE_AUTH", "AUTH_TYPE", "JWT_APP_ID", "JWT_APP_SECRET", "JWT_ASAP_KEYSERVER",
	}
}

// dockerEnv reads variables with the template's `default` semantics: an
// empty value counts as unset.
type dockerEnv struct {
	lookup func(string) (string, bool)
}

func (e dockerEnv) get(name string) string {
	v, _ := e.lookup(name)
	return v
}

func (e dockerEnv) or(name, def string) string {
	if v := e.get(name); v != "" {
		return v
	}
	return def
}

// flag is the image's `.Env.NAME | default DEF | toBool` (jitsi/tpl
// v1.5.0): strconv.ParseBool after removing quotes, and any other
// non-empty text is true.
func (e dockerEnv) flag(name, def string) bool {
	return tplBool(e.or(name, def))
}

func tplBool(v string) bool {
	v = strings.ReplaceAll(strings.ReplaceAll(v, `"`, ""), "'", "")
	b, err := strconv.ParseBool(v)
	if err != nil {
		return v != ""
	}
	return b
}

// list is sprig's `splitList "," | compact`.
func (e dockerEnv) list(name, def string) []string {
	var out []string
	for _, s := range strings.Split(e.or(name, def), ",") {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// number checks that a variable the template prints unquoted is a number,
// which the Lua config would otherwise choke on.
func (e dockerEnv) number(name, def string) (string, error) {
	v := e.or(name, def)
	if _, err := strconv.ParseFloat(v, 64); err != nil {
		return "", fmt.Errorf("docker environment: %s=%q is not a number", name, v)
	}
	return v, nil
}

// dockerEnvConfig renders the docker-jitsi-meet layout from env. ok is
// false when none of the docker variables is set (the caller then uses its
// own default). err reports values parley cannot serve.
func dockerEnvConfig(env func(string) (string, bool)) (setup dockerSetup, ok bool, err error) {
	e := dockerEnv{lookup: env}
	for _, name := range dockerTriggers() {
		if e.get(name) != "" {
			ok = true
			break
		}
	}
	if !ok {
		return dockerSetup{}, false, nil
	}
	r := &dockerRender{e: e}
	if err := r.render(); err != nil {
		return dockerSetup{}, true, err
	}
	return dockerSetup{Config: r.w.String(), Accounts: r.accounts, Certificates: r.certs, Warnings: r.warnings}, true, nil
}

// dockerRender holds one rendering.
type dockerRender struct {
	e        dockerEnv
	w        luaWriter
	accounts []dockerAccount
	certs    []dockerCert
	warnings []string

	mode       string
	domain     string
	authDomain string
	hidden     string
	certsDir   string
}

func (r *dockerRender) warn(format string, args ...any) {
	r.warnings = append(r.warnings, fmt.Sprintf(format, args...))
}

func (r *dockerRender) render() error {
	e := r.e
	r.mode = e.or("PROSODY_MODE", "client")
	r.domain = e.or("XMPP_DOMAIN", "meet.jitsi")
	r.authDomain = e.or("XMPP_AUTH_DOMAIN", "auth.meet.jitsi")
	r.hidden = e.or("XMPP_HIDDEN_DOMAIN", e.or("XMPP_RECORDER_DOMAIN", "hidden.meet.jitsi"))
	r.certsDir = e.or("PARLEY_CERTS_DIR", dockerCertsDir)
	domains := [][2]string{{"XMPP_DOMAIN", "meet.jitsi"}, {"XMPP_AUTH_DOMAIN", "auth.meet.jitsi"},
		{"XMPP_MUC_DOMAIN", "muc.meet.jitsi"}, {"XMPP_INTERNAL_MUC_DOMAIN", "internal-muc.meet.jitsi"},
		{"XMPP_GUEST_DOMAIN", "guest.meet.jitsi"}, {"XMPP_HIDDEN_DOMAIN", r.hidden}}
	switch r.mode {
	case "client":
	case "brewery":
		r.authDomain = e.or("JVB_XMPP_AUTH_DOMAIN", "auth.jvb.meet.jitsi")
		domains = [][2]string{{"JVB_XMPP_AUTH_DOMAIN", r.authDomain}, {"JVB_XMPP_INTERNAL_MUC_DOMAIN", "muc.jvb.meet.jitsi"}}
	case "visitors":
		return fmt.Errorf("docker environment: PROSODY_MODE=visitors needs server-to-server connections, which parley does not support")
	default:
		return fmt.Errorf("docker environment: unknown PROSODY_MODE %q (want client or brewery)", r.mode)
	}
	for _, d := range domains {
		if err := checkDomain(d[0], e.or(d[0], d[1])); err != nil {
			return err
		}
	}
	if e.get("JICOFO_AUTH_PASSWORD") == "" {
		r.warn("JICOFO_AUTH_PASSWORD is not set: jicofo cannot log in (the docker image refuses to start)")
	}
	if e.get("JVB_AUTH_PASSWORD") == "" {
		r.warn("JVB_AUTH_PASSWORD is not set: the videobridge cannot log in (the docker image refuses to start)")
	}
	r.w.comment("Rendered by parley from docker-jitsi-meet environment variables (PROSODY_MODE=" + r.mode + ").")
	if err := r.global(); err != nil {
		return err
	}
	if r.mode == "brewery" {
		r.brewery()
	} else if err := r.site(); err != nil {
		return err
	}
	r.registerAccounts()
	return nil
}

// checkDomain rejects a domain variable that is not a bare XMPP domain.
func checkDomain(name, v string) error {
	j, err := jid.Parse(v)
	if err != nil || j.Localpart() != "" || j.Resourcepart() != "" {
		return fmt.Errorf("docker environment: %s=%q is not a valid XMPP domain", name, v)
	}
	if d := j.Domainpart(); d != v {
		// Jitsi's modules compare these names as written: insist on the
		// canonical form rather than half-normalise.
		return fmt.Errorf("docker environment: %s=%q is not in canonical form (write %q)", name, v, d)
	}
	return nil
}

// global is prosody.cfg.lua.
func (r *dockerRender) global() error {
	e, w := r.e, &r.w
	enableS2S := e.flag("ENABLE_VISITORS", "0") || e.flag("PROSODY_ENABLE_S2S", "0")
	if enableS2S {
		r.warn("server-to-server (ENABLE_VISITORS / PROSODY_ENABLE_S2S) is not supported by parley; the s2s modules are ignored")
	}
	metrics := e.flag("PROSODY_ENABLE_METRICS", "false")
	// PROSODY_ADMINS goes into prosody.cfg.lua's admins, which the site
	// file of every mode parley serves (client, brewery) replaces: it has
	// no effect there, so it is not written.
	w.opt(0, "component_admins_as_room_owners", true)
	mods := []string{"roster", "saslauth", "tls", "disco", "admin_shell"}
	if r.mode == "client" {
		mods = append(mods, "private", "limits", "version")
	}
	mods = append(mods, "ping", "posix", "http_health")
	if r.mode == "brewery" {
		mods = append(mods, "firewall", "secure_interfaces")
	}
	if enableS2S {
		mods = append(mods, "s2s_bidi", "certs_s2soutinjection", "s2sout_override", "s2s_whitelist")
	}
	if e.get("TURN_HOST") != "" || e.get("TURNS_HOST") != "" {
		mods = append(mods, "external_services")
	}
	if metrics {
		mods = append(mods, "http_openmetrics")
	}
	if e.flag("PROSODY_ENABLE_STANZA_COUNTS", "false") {
		mods = append(mods, "measure_stanza_counts")
	}
	mods = append(mods, e.list("GLOBAL_MODULES", "")...)
	w.opt(0, "modules_enabled", mods)
	w.opt(0, "component_ports", []string{})
	w.opt(0, "https_ports", []string{})
	w.opt(0, "trusted_proxies", e.list("PROSODY_TRUSTED_PROXIES", "127.0.0.1,::1"))
	if r.mode == "brewery" {
		w.opt(0, "firewall_scripts", []string{"/run/prosody/config/rules.d/jvb_muc_presence_filter.pfw"})
	}
	disabled := []string{"offline", "register"}
	if !enableS2S {
		disabled = append(disabled, "s2s")
	}
	w.opt(0, "modules_disabled", disabled)
	w.opt(0, "allow_registration", false)
	c2sLimit, s2sLimit := !e.flag("PROSODY_DISABLE_C2S_LIMIT", "0"), !e.flag("PROSODY_DISABLE_S2S_LIMIT", "0")
	if r.mode != "brewery" && (c2sLimit || s2sLimit) {
		var limits luaTable
		if c2sLimit {
			limits = append(limits, luaField{"c2s", luaTable{{"rate", e.or("PROSODY_C2S_LIMIT", "10kb/s")}}})
		}
		if s2sLimit {
			limits = append(limits, luaField{"s2sin", luaTable{{"rate", e.or("PROSODY_S2S_LIMIT", "30kb/s")}}})
		}
		w.opt(0, "limits", limits)
	}
	requireEncryption := e.flag("PROSODY_C2S_REQUIRE_ENCRYPTION", "1")
	if r.mode == "brewery" {
		requireEncryption = true // the image forces it in brewery mode
	}
	w.opt(0, "c2s_require_encryption", requireEncryption)
	port, err := e.number("XMPP_PORT", "5222")
	if err != nil {
		return err
	}
	w.opt(0, "c2s_ports", []luaRaw{luaRaw(port)})
	ifaces := []string{"*", "::"}
	if !e.flag("ENABLE_IPV6", "true") {
		ifaces = []string{"*"}
	}
	w.opt(0, "c2s_interfaces", ifaces)
	if enableS2S {
		s2sPort, err := e.number("PROSODY_S2S_PORT", "5269")
		if err != nil {
			return err
		}
		w.opt(0, "s2s_ports", []luaRaw{luaRaw(s2sPort)})
		if e.get("VISITORS_XMPP_SERVER") != "" {
			r.warn("VISITORS_XMPP_SERVER is ignored: server-to-server is not supported")
		}
	}
	w.opt(0, "authentication", "internal_hashed")
	logs := luaTable{{"levels", luaTable{{"min", e.or("LOG_LEVEL", "info")}}}, {"timestamps", "%Y-%m-%d %X"}, {"to", "console"}}
	w.line(0, "log = {")
	w.line(1, lua(logs)+";")
	for _, l := range rawLines(e.get("PROSODY_LOG_CONFIG"), `\n`) {
		w.line(1, l)
	}
	w.line(0, "}")
	if metrics {
		w.opt(0, "statistics", "internal")
		w.opt(0, "statistics_interval", "manual")
		w.opt(0, "openmetrics_allow_cidr", e.or("PROSODY_METRICS_ALLOWED_CIDR", "172.16.0.0/12"))
	}
	if s := e.get("TURN_CREDENTIALS"); s != "" {
		w.opt(0, "external_service_secret", s)
	}
	if err := r.externalServices(); err != nil {
		return err
	}
	for _, l := range rawLines(e.get("GLOBAL_CONFIG"), `\n`) {
		w.line(0, l)
	}
	httpPort, err := e.number("PROSODY_HTTP_PORT", "5280")
	if err != nil {
		return err
	}
	w.opt(0, "http_ports", []luaRaw{luaRaw(httpPort)})
	w.opt(0, "http_interfaces", ifaces)
	w.opt(0, "data_path", e.or("PARLEY_DATA_PATH", dockerDataPath))
	w.opt(0, "certificates", r.certsDir)
	return nil
}

// externalServices is the external_services table built from STUN_*,
// TURN_* and TURNS_*.
func (r *dockerRender) externalServices() error {
	e := r.e
	stun, turns, turn := e.get("STUN_HOST"), e.list("TURNS_HOST", ""), e.list("TURN_HOST", "")
	if stun == "" && len(turn) == 0 && len(turns) == 0 {
		return nil
	}
	var items []luaTable
	if stun != "" {
		port, err := e.number("STUN_PORT", "443")
		if err != nil {
			return err
		}
		items = append(items, luaTable{{"type", "stun"}, {"host", stun}, {"port", luaRaw(port)}, {"transport", "udp"}})
	}
	ttl, err := e.number("TURN_TTL", "86400")
	if err != nil {
		return err
	}
	turnItem := func(typ, host, port, transport string) luaTable {
		t := luaTable{{"type", typ}, {"host", host}, {"port", luaRaw(port)}, {"transport", transport}, {"ttl", luaRaw(ttl)}}
		if e.get("TURN_CREDENTIALS") != "" {
			t = append(t, luaField{"secret", true}, luaField{"algorithm", "turn"})
		}
		if u := e.get("TURN_USERNAME"); u != "" {
			t = append(t, luaField{"username", u})
		}
		if p := e.get("TURN_PASSWORD"); p != "" {
			t = append(t, luaField{"password", p})
		}
		return t
	}
	if len(turn) > 0 {
		port, err := e.number("TURN_PORT", "443")
		if err != nil {
			return err
		}
		for _, host := range turn {
			for _, transport := range e.list("TURN_TRANSPORT", "tcp") {
				items = append(items, turnItem("turn", host, port, transport))
			}
		}
	}
	if len(turns) > 0 {
		port, err := e.number("TURNS_PORT", "443")
		if err != nil {
			return err
		}
		for _, host := range turns {
			items = append(items, turnItem("turns", host, port, "tcp"))
		}
	}
	r.w.line(0, "external_services = {")
	for _, it := range items {
		r.w.line(1, lua(it)+";")
	}
	r.w.line(0, "}")
	return nil
}

// site is conf.d/jitsi-meet.cfg.lua (PROSODY_MODE=client).
func (r *dockerRender) site() error {
	e, w := r.e, &r.w
	authType := e.or("PROSODY_AUTH_TYPE", e.or("AUTH_TYPE", "internal"))
	enableAuth := e.flag("ENABLE_AUTH", "0")
	jwt := enableAuth && authType == "jwt"
	if enableAuth {
		switch authType {
		case "jwt", "internal":
		default:
			return fmt.Errorf("docker environment: AUTH_TYPE=%s is not supported by parley (use internal or jwt)", authType)
		}
	}
	muc := e.or("XMPP_MUC_DOMAIN", "muc.meet.jitsi")
	internalMUC := e.or("XMPP_INTERNAL_MUC_DOMAIN", "internal-muc.meet.jitsi")
	guest := e.or("XMPP_GUEST_DOMAIN", "guest.meet.jitsi")
	jvb := e.or("JVB_AUTH_USER", "jvb")
	recorder := e.or("JIBRI_RECORDER_USER", "recorder")
	transcriber := e.or("JIGASI_TRANSCRIBER_USER", "transcriber")
	websocket := e.flag("ENABLE_XMPP_WEBSOCKET", "1")
	lobby := e.flag("ENABLE_LOBBY", "true")
	breakout := e.flag("ENABLE_BREAKOUT_ROOMS", "true")
	recording := e.flag("ENABLE_RECORDING", "0")
	transcriptions := e.flag("ENABLE_TRANSCRIPTIONS", "0")
	visitors := e.flag("ENABLE_VISITORS", "0")
	rateLimits := e.flag("PROSODY_ENABLE_RATE_LIMITS", "0")
	filterMessages := e.flag("PROSODY_ENABLE_FILTER_MESSAGES", "false")
	resourceValidate := e.flag("PROSODY_ENABLE_MUC_RESOURCE_VALIDATE", "true")
	jibriSession := e.flag("PROSODY_ENABLE_RECORDING_METADATA", "1") && jwt && recording
	maxParticipants := e.get("MAX_PARTICIPANTS")
	xmppModules := e.list("XMPP_MODULES", "")
	xmppConfig := rawLines(e.get("XMPP_CONFIGURATION"), ",")

	w.blank()
	var admins []string
	if e.get("JIGASI_XMPP_PASSWORD") != "" {
		admins = append(admins, e.or("JIGASI_XMPP_USER", "jigasi")+"@"+r.authDomain)
	}
	if e.get("JIBRI_XMPP_PASSWORD") != "" {
		admins = append(admins, e.or("JIBRI_XMPP_USER", "jibri")+"@"+r.authDomain)
	}
	admins = append(admins, "focus@"+r.authDomain, jvb+"@"+r.authDomain)
	w.opt(0, "admins", admins)
	w.opt(0, "unlimited_jids", []string{"focus@" + r.authDomain, jvb + "@" + r.authDomain})
	w.opt(0, "muc_mapper_domain_base", r.domain)
	prefix, _, _ := strings.Cut(muc, ".")
	w.opt(0, "muc_mapper_domain_prefix", prefix)
	w.opt(0, "recorder_prefixes", []string{recorder + "@" + r.hidden})
	w.opt(0, "transcriber_prefixes", []string{transcriber + "@" + r.hidden})
	w.opt(0, "http_default_host", r.domain)
	if jwt {
		for _, o := range []struct{ env, opt string }{
			{"JWT_ACCEPTED_ISSUERS", "asap_accepted_issuers"},
			{"JWT_ACCEPTED_AUDIENCES", "asap_accepted_audiences"},
			{"JWT_ACCEPTED_ALLOWNER_ISSUERS", "allowner_issuers"},
		} {
			if list := e.list(o.env, ""); len(list) > 0 {
				w.opt(0, o.opt, list)
			}
		}
	}
	w.opt(0, "consider_bosh_secure", true)
	w.opt(0, "consider_websocket_secure", true)
	if websocket {
		w.opt(0, "smacks_max_unacked_stanzas", luaRaw("5"))
		w.opt(0, "smacks_hibernation_time", luaRaw("60"))
		w.opt(0, "smacks_max_old_sessions", luaRaw("1"))
	}
	w.opt(0, "storage", luaTable{{"smacks_h", "memory"}})

	if e.flag("ENABLE_JAAS_COMPONENTS", "0") {
		publicDomain := strings.TrimSuffix(strings.TrimPrefix(e.or("PUBLIC_URL", "https://localhost:8443"), "https://"), "/")
		w.blank()
		w.line(0, "VirtualHost "+luaQuote("jigasi.meet.jitsi"))
		w.opt(1, "modules_enabled", []string{"bosh", "muc_password_check"})
		w.opt(1, "authentication", "token")
		w.opt(1, "app_id", "jitsi")
		w.opt(1, "asap_key_server", "https://jaas-public-keys.jitsi.net/jitsi-components/prod-8x8")
		w.opt(1, "asap_accepted_issuers", []string{"jaas-components"})
		w.opt(1, "asap_accepted_audiences", []string{"jigasi." + publicDomain})
	}

	// The main VirtualHost.
	w.blank()
	w.line(0, "VirtualHost "+luaQuote(r.domain))
	switch {
	case jwt:
		if s := e.get("JWT_SIGN_TYPE"); s != "" {
			w.opt(1, "signature_algorithm", s)
		}
		w.opt(1, "authentication", e.or("JWT_AUTH_TYPE", "token"))
		w.opt(1, "app_id", e.get("JWT_APP_ID"))
		if e.flag("JWT_APP_SECRET", "false") {
			w.opt(1, "app_secret", e.get("JWT_APP_SECRET"))
		}
		w.opt(1, "allow_empty_token", e.flag("JWT_ALLOW_EMPTY", "0"))
		if s := e.get("JWT_ASAP_KEYSERVER"); s != "" {
			w.opt(1, "asap_key_server", s)
		}
		w.opt(1, "enable_domain_verification", e.flag("JWT_ENABLE_DOMAIN_VERIFICATION", "false"))
	case enableAuth: // internal
		w.opt(1, "authentication", "internal_hashed")
		w.opt(1, "disable_sasl_mechanisms", []string{"DIGEST-MD5", "OAUTHBEARER"})
	default:
		w.opt(1, "authentication", "jitsi-anonymous")
	}
	r.ssl(r.domain)
	mods := []string{"bosh", "features_identity"}
	if websocket {
		mods = append(mods, "websocket", "smacks")
	}
	mods = append(mods, "conference_duration")
	if lobby {
		mods = append(mods, "muc_lobby_rooms")
	}
	if breakout {
		mods = append(mods, "muc_breakout_rooms")
	}
	mods = append(mods, xmppModules...)
	if e.flag("PROSODY_RESERVATION_ENABLED", "false") {
		mods = append(mods, "reservations")
	}
	if visitors {
		mods = append(mods, "visitors")
	}
	if jibriSession {
		mods = append(mods, "jibri_session")
	}
	w.opt(1, "modules_enabled", mods)
	w.opt(1, "main_muc", muc)
	if lobby {
		w.opt(1, "lobby_muc", "lobby."+r.domain)
		if recording || transcriptions {
			w.opt(1, "muc_lobby_whitelist", []string{r.hidden})
		}
	}
	if e.flag("PROSODY_RESERVATION_ENABLED", "false") {
		w.opt(1, "reservations_api_prefix", e.get("PROSODY_RESERVATION_REST_BASE_URL"))
	}
	if breakout {
		w.opt(1, "breakout_rooms_muc", "breakout."+r.domain)
	}
	requireEncryption := e.flag("PROSODY_C2S_REQUIRE_ENCRYPTION", "1")
	w.opt(1, "c2s_require_encryption", requireEncryption)
	if visitors {
		w.opt(1, "visitors_ignore_list", []string{r.hidden})
	}
	for _, l := range xmppConfig {
		w.line(1, l)
	}

	if enableAuth && e.flag("ENABLE_GUESTS", "0") {
		w.blank()
		w.line(0, "VirtualHost "+luaQuote(guest))
		w.opt(1, "authentication", e.or("PROSODY_GUEST_AUTH_TYPE", "jitsi-anonymous"))
		var gm []string
		if websocket {
			gm = append(gm, "smacks")
		}
		w.opt(1, "modules_enabled", append(gm, xmppModules...))
		w.opt(1, "main_muc", muc)
		w.opt(1, "c2s_require_encryption", requireEncryption)
		if visitors {
			w.opt(1, "allow_anonymous_s2s", true)
		}
		if lobby {
			w.opt(1, "lobby_muc", "lobby."+r.domain)
		}
		if breakout {
			w.opt(1, "breakout_rooms_muc", "breakout."+r.domain)
		}
		for _, l := range xmppConfig {
			w.line(1, l)
		}
	}

	w.blank()
	w.line(0, "VirtualHost "+luaQuote(r.authDomain))
	r.ssl(r.authDomain)
	am := []string{"limits_exception"}
	if jibriSession {
		am = append(am, "jibri_session")
	}
	w.opt(1, "modules_enabled", append(am, "smacks"))
	w.opt(1, "authentication", "internal_hashed")
	w.opt(1, "smacks_hibernation_time", luaRaw("15"))

	if recording || transcriptions {
		w.blank()
		w.line(0, "VirtualHost "+luaQuote(r.hidden))
		w.opt(1, "modules_enabled", []string{"smacks"})
		w.opt(1, "authentication", "internal_hashed")
	}

	// Components.
	component := func(name, typ string) {
		w.blank()
		w.line(0, "Component "+luaQuote(name)+" "+luaQuote(typ))
	}
	roomDefaults := func(cache string) {
		w.opt(1, "muc_room_cache_size", luaRaw(cache))
		w.opt(1, "muc_room_locking", false)
		w.opt(1, "muc_room_default_public_jids", true)
		w.opt(1, "muc_tombstones", false)
		w.opt(1, "muc_room_allow_persistent", false)
	}
	component(internalMUC, "muc")
	w.opt(1, "storage", "memory")
	w.opt(1, "modules_enabled", append([]string{"muc_hide_all", "muc_filter_access"}, e.list("XMPP_INTERNAL_MUC_MODULES", "")...))
	w.opt(1, "restrict_room_creation", true)
	w.opt(1, "muc_filter_whitelist", r.authDomain)
	roomDefaults("1000")

	component(muc, "muc")
	w.opt(1, "restrict_room_creation", true)
	w.opt(1, "storage", "memory")
	mm := append([]string{"muc_hide_all", "muc_meeting_id"}, e.list("XMPP_MUC_MODULES", "")...)
	if jwt {
		mm = append(mm, e.or("JWT_TOKEN_AUTH_MODULE", "token_verification"))
	}
	if e.flag("ENABLE_SUBDOMAINS", "true") {
		mm = append(mm, "muc_domain_mapper")
	}
	if rateLimits {
		mm = append(mm, "muc_rate_limit", "rate_limit")
	}
	if maxParticipants != "" {
		mm = append(mm, "muc_max_occupants")
	}
	mm = append(mm, "muc_password_whitelist")
	if filterMessages {
		mm = append(mm, "filter_messages")
	}
	if resourceValidate {
		mm = append(mm, "muc_resource_validate")
	}
	w.opt(1, "modules_enabled", mm)
	if resourceValidate {
		w.opt(1, "anonymous_strict", e.flag("PROSODY_MUC_RESOURCE_VALIDATE_ANONYMOUS_STRICT", "false"))
		if methods := e.list("PROSODY_MUC_RESOURCE_VALIDATE_ANON_METHODS", ""); len(methods) > 0 {
			w.opt(1, "anonymous_auth_methods", methods)
		}
	}
	if rateLimits {
		for _, o := range []struct{ env, opt, def string }{
			{"PROSODY_RATE_LIMIT_LOGIN_RATE", "rate_limit_login_rate", "3"},
			{"PROSODY_RATE_LIMIT_SESSION_RATE", "rate_limit_session_rate", "200"},
			{"PROSODY_RATE_LIMIT_TIMEOUT", "rate_limit_timeout", "60"},
		} {
			v, err := e.number(o.env, o.def)
			if err != nil {
				return err
			}
			w.opt(1, o.opt, luaRaw(v))
		}
		w.opt(1, "rate_limit_whitelist", append([]string{"127.0.0.1", "::1"}, e.list("PROSODY_RATE_LIMIT_ALLOW_RANGES", "10.0.0.0/8")...))
		w.opt(1, "rate_limit_whitelist_hosts", []string{r.hidden})
	}
	cacheSize, err := e.number("PROSODY_RATE_LIMIT_CACHE_SIZE", "10000")
	if err != nil {
		return err
	}
	w.opt(1, "rate_limit_cache_size", luaRaw(cacheSize))
	w.opt(1, "muc_room_cache_size", luaRaw("10000"))
	w.opt(1, "muc_room_locking", false)
	w.opt(1, "muc_room_default_public_jids", true)
	for _, l := range rawLines(e.get("XMPP_MUC_CONFIGURATION"), ",") {
		w.line(1, l)
	}
	whitelist := []string{"focus@" + r.authDomain}
	if recording {
		whitelist = append(whitelist, recorder+"@"+r.hidden)
	}
	if transcriptions {
		whitelist = append(whitelist, transcriber+"@"+r.hidden)
	}
	if maxParticipants != "" {
		w.opt(1, "muc_access_whitelist", whitelist)
		w.opt(1, "muc_max_occupants", maxParticipants)
	}
	w.opt(1, "muc_password_whitelist", whitelist)
	w.opt(1, "muc_tombstones", false)
	w.opt(1, "muc_room_allow_persistent", false)
	if e.flag("WAIT_FOR_HOST_DISABLE_AUTO_OWNERS", "false") {
		w.opt(1, "wait_for_host_disable_auto_owners", true)
	}

	component("focus."+r.domain, "client_proxy")
	w.opt(1, "target_address", "focus@"+r.authDomain)

	component("speakerstats."+r.domain, "speakerstats_component")
	w.opt(1, "muc_component", muc)
	if m := e.list("XMPP_SPEAKERSTATS_MODULES", ""); len(m) > 0 {
		w.opt(1, "modules_enabled", m)
	}
	if e.flag("ENABLE_END_CONFERENCE", "true") {
		component("endconference."+r.domain, "end_conference")
		w.opt(1, "muc_component", muc)
	}
	if e.flag("ENABLE_AV_MODERATION", "true") {
		component("avmoderation."+r.domain, "av_moderation_component")
		w.opt(1, "muc_component", muc)
	}
	if lobby {
		component("lobby."+r.domain, "muc")
		w.opt(1, "storage", "memory")
		w.opt(1, "restrict_room_creation", true)
		roomDefaults("10000")
		if maxParticipants != "" {
			w.opt(1, "muc_max_occupants", maxParticipants)
		}
		lm := []string{"muc_hide_all"}
		if rateLimits {
			lm = append(lm, "muc_rate_limit")
		}
		if maxParticipants != "" {
			lm = append(lm, "muc_max_occupants")
		}
		w.opt(1, "modules_enabled", append(lm, e.list("XMPP_LOBBY_MUC_MODULES", "")...))
	}
	if breakout {
		component("breakout."+r.domain, "muc")
		w.opt(1, "storage", "memory")
		w.opt(1, "restrict_room_creation", true)
		roomDefaults("10000")
		bm := []string{"muc_hide_all", "muc_meeting_id"}
		if rateLimits {
			bm = append(bm, "muc_rate_limit")
		}
		bm = append(bm, e.list("XMPP_BREAKOUT_MUC_MODULES", "")...)
		if filterMessages {
			bm = append(bm, "filter_messages")
		}
		w.opt(1, "modules_enabled", bm)
	}
	component("metadata."+r.domain, "room_metadata_component")
	w.opt(1, "muc_component", muc)
	w.opt(1, "breakout_rooms_component", "breakout."+r.domain)
	if e.flag("ENABLE_AUDIO_TRANSLATION", "0") {
		component("audiotranslation."+r.domain, "audio_translation_component")
		w.opt(1, "muc_component", muc)
	}
	if visitors {
		component("visitors."+r.domain, "visitors_component")
		w.opt(1, "auto_allow_visitor_promotion", true)
		w.opt(1, "always_visitors_enabled", true)
	}
	if !e.flag("DISABLE_POLLS", "false") {
		component("polls."+r.domain, "polls_component")
	}
	return nil
}

// rawLines splits a variable of raw config lines (the image's
// `splitList sep | compact`).
func rawLines(v, sep string) []string {
	var out []string
	for _, l := range strings.Split(v, sep) {
		if l != "" {
			out = append(out, l)
		}
	}
	return out
}

// brewery is conf.d/brewery.cfg.lua (PROSODY_MODE=brewery).
func (r *dockerRender) brewery() {
	e, w := r.e, &r.w
	jvb := e.or("JVB_AUTH_USER", "jvb")
	muc := e.or("JVB_XMPP_INTERNAL_MUC_DOMAIN", "muc.jvb.meet.jitsi")
	w.opt(0, "admins", []string{"focus@" + r.authDomain, jvb + "@" + r.authDomain})
	w.blank()
	w.line(0, "VirtualHost "+luaQuote(r.authDomain))
	w.opt(1, "modules_enabled", []string{"smacks"})
	w.opt(1, "authentication", "internal_hashed")
	r.ssl(r.authDomain)
	w.opt(1, "smacks_hibernation_time", luaRaw("15"))
	w.blank()
	w.line(0, "Component "+luaQuote(muc)+" "+luaQuote("muc"))
	w.opt(1, "modules_enabled", []string{"muc_hide_all", "muc_filter_access"})
	w.opt(1, "storage", "memory")
	w.opt(1, "muc_room_cache_size", luaRaw("10000"))
	w.opt(1, "muc_filter_whitelist", r.authDomain)
	w.opt(1, "muc_room_locking", false)
	w.opt(1, "muc_room_default_public_jids", true)
}

// ssl writes a host's ssl table and records the certificate the image
// generates for it.
func (r *dockerRender) ssl(host string) {
	c := dockerCert{Host: host, CertFile: r.certsDir + "/" + host + ".crt", KeyFile: r.certsDir + "/" + host + ".key"}
	r.certs = append(r.certs, c)
	r.w.opt(1, "ssl", luaTable{{"key", c.KeyFile}, {"certificate", c.CertFile}})
}

// registerAccounts is the register-setup script.
func (r *dockerRender) registerAccounts() {
	e := r.e
	add := func(user, host, pw string) {
		if pw != "" {
			r.accounts = append(r.accounts, dockerAccount{User: user, Host: host, Password: pw})
		}
	}
	add("focus", r.authDomain, e.get("JICOFO_AUTH_PASSWORD"))
	add(e.or("JVB_AUTH_USER", "jvb"), r.authDomain, e.get("JVB_AUTH_PASSWORD"))
	add(e.or("JIBRI_XMPP_USER", "jibri"), r.authDomain, e.get("JIBRI_XMPP_PASSWORD"))
	if r.mode == "client" {
		if e.flag("ENABLE_RECORDING", "0") {
			add(e.or("JIBRI_RECORDER_USER", "recorder"), r.hidden, e.get("JIBRI_RECORDER_PASSWORD"))
		}
		if e.flag("ENABLE_TRANSCRIPTIONS", "0") {
			add(e.or("JIGASI_TRANSCRIBER_USER", "transcriber"), r.hidden, e.get("JIGASI_TRANSCRIBER_PASSWORD"))
		}
	}
	add(e.or("JIGASI_XMPP_USER", "jigasi"), r.authDomain, e.get("JIGASI_XMPP_PASSWORD"))
}

// luaWriter builds config text.
type luaWriter struct{ b strings.Builder }

func (w *luaWriter) String() string { return w.b.String() }

func (w *luaWriter) line(indent int, s string) {
	w.b.WriteString(strings.Repeat("    ", indent))
	w.b.WriteString(s)
	w.b.WriteByte('\n')
}

func (w *luaWriter) blank() { w.b.WriteByte('\n') }

func (w *luaWriter) comment(s string) { w.line(0, "-- "+s) }

func (w *luaWriter) opt(indent int, name string, v any) {
	w.line(indent, name+" = "+lua(v))
}

// luaRaw is Lua source written as is (numbers, and the raw config lines
// the image lets administrators inject).
type luaRaw string

// luaField is one named field of a luaTable.
type luaField struct {
	Key   string
	Value any
}

// luaTable is a Lua table with named fields, in order.
type luaTable []luaField

// lua formats v as a Lua expression.
func lua(v any) string {
	switch x := v.(type) {
	case string:
		return luaQuote(x)
	case luaRaw:
		return string(x)
	case bool:
		return strconv.FormatBool(x)
	case []string:
		parts := make([]string, len(x))
		for i, s := range x {
			parts[i] = luaQuote(s)
		}
		return luaList(parts)
	case []luaRaw:
		parts := make([]string, len(x))
		for i, s := range x {
			parts[i] = string(s)
		}
		return luaList(parts)
	case luaTable:
		parts := make([]string, len(x))
		for i, f := range x {
			parts[i] = f.Key + " = " + lua(f.Value)
		}
		return luaList(parts)
	}
	panic(fmt.Sprintf("dockerenv: no Lua form for %T", v))
}

func luaList(parts []string) string {
	if len(parts) == 0 {
		return "{ }"
	}
	return "{ " + strings.Join(parts, ", ") + " }"
}

// luaQuote quotes s as a Lua 5.1 string literal: backslash, quote and
// control characters are escaped, other bytes are kept.
func luaQuote(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' || c == '"':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c == '\n':
			b.WriteString(`\n`)
		case c < 0x20 || c == 0x7f:
			fmt.Fprintf(&b, `\%03d`, c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// prepareCertificates generates a self-signed certificate for each entry
// whose certificate file does not exist, as the image's config script does
// with `prosodyctl cert generate`. It returns the hosts it generated for.
// Call it before server.New, which loads the certificates.
func (d dockerSetup) prepareCertificates(now time.Time) ([]string, error) {
	var made []string
	for _, c := range d.Certificates {
		created, err := ensureCertificate(c, now)
		if err != nil {
			return made, err
		}
		if created {
			made = append(made, c.Host)
		}
	}
	return made, nil
}

// createAccounts gives each service account the password from the
// environment (creating it if needed), like the image's register-setup.
// Call it after server.New.
func (d dockerSetup) createAccounts(ctx context.Context, srv *server.Server) error {
	for _, a := range d.Accounts {
		h := srv.Host(a.Host)
		if h == nil || h.Accounts == nil {
			return fmt.Errorf("docker environment: cannot create %s@%s: no VirtualHost with accounts", a.User, a.Host)
		}
		if err := h.Accounts.SetPassword(ctx, a.User, a.Password); err != nil {
			return fmt.Errorf("docker environment: create %s@%s: %w", a.User, a.Host, err)
		}
	}
	return nil
}

// ensureCertificate writes a self-signed ECDSA P-256 certificate for c.Host
// (valid for a year from now) unless c.CertFile exists.
func ensureCertificate(c dockerCert, now time.Time) (bool, error) {
	if _, err := os.Stat(c.CertFile); err == nil {
		return false, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("docker environment: certificate for %s: %w", c.Host, err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return false, fmt.Errorf("docker environment: key for %s: %w", c.Host, err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return false, fmt.Errorf("docker environment: serial for %s: %w", c.Host, err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: c.Host, Organization: []string{"parley (self-signed)"}},
		DNSNames:              []string{c.Host},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(1, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return false, fmt.Errorf("docker environment: certificate for %s: %w", c.Host, err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return false, fmt.Errorf("docker environment: key for %s: %w", c.Host, err)
	}
	for _, f := range []struct {
		path, dir string
		block     *pem.Block
		mode      os.FileMode
	}{
		{c.KeyFile, filepath.Dir(c.KeyFile), &pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}, 0o600},
		{c.CertFile, filepath.Dir(c.CertFile), &pem.Block{Type: "CERTIFICATE", Bytes: der}, 0o644},
	} {
		if err := os.MkdirAll(f.dir, 0o750); err != nil {
			return false, fmt.Errorf("docker environment: certificate for %s: %w", c.Host, err)
		}
		if err := os.WriteFile(f.path, pem.EncodeToMemory(f.block), f.mode); err != nil {
			return false, fmt.Errorf("docker environment: certificate for %s: %w", c.Host, err)
		}
	}
	return true, nil
}
