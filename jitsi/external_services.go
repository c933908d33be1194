package jitsi

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/parley-xmpp/parley/server"
	"github.com/parley-xmpp/parley/server/stanza"
)

// XEP-0215 namespaces: version 0.7 and the 0.6 one older clients use.
const (
	NSExtDisco  = "urn:xmpp:extdisco:2"
	NSExtDisco1 = "urn:xmpp:extdisco:1"
)

// ExternalServicesName is the module name of Prosody's mod_external_services
// (which newer Jitsi releases also ship as a plugin).
const ExternalServicesName = "external_services"

// Options of external_services (read on the host, inherited from global).
const (
	OptExternalServices      = "external_services"
	OptExternalServiceHost   = "external_service_host"
	OptExternalServicePort   = "external_service_port"
	OptExternalServiceSecret = "external_service_secret"
	OptExternalServiceTTL    = "external_service_ttl"
	OptExternalServiceAccess = "external_service_access"
)

// defaultServiceTTL is external_service_ttl's default: one day.
const defaultServiceTTL = 24 * time.Hour

// ExternalService is one XEP-0215 service record as it is sent: the
// configured item with its defaults applied and, for TURN items with a
// secret, TURN REST credentials (draft-uberti-behave-turn-rest-00).
type ExternalService struct {
	Type      string
	Transport string
	Host      string
	Port      int // 0: not sent
	Username  string
	Password  string
	Expires   time.Time // zero: not sent
	// Restricted marks services with credentials (restricted="1").
	Restricted bool
}

// ExternalServices is Prosody's mod_external_services: the host answers
// XEP-0215 services and credentials requests (urn:xmpp:extdisco:2 and the
// older :1) with the services of the external_services option.
type ExternalServices struct{}

var _ server.Module = (*ExternalServices)(nil)

// NewExternalServices returns the external_services module.
func NewExternalServices() *ExternalServices { return &ExternalServices{} }

// Name implements server.Module.
func (*ExternalServices) Name() string { return ExternalServicesName }

// Load implements server.Module: it reads the host's settings (reporting
// bad option types) and registers the IQ handlers and disco features.
func (*ExternalServices) Load(_ context.Context, h *server.Host) error {
	set, err := NewServiceSet(h)
	if err != nil {
		return err
	}
	set.Register(h)
	return nil
}

// ServiceSet is the external services configuration of one host.
type ServiceSet struct {
	host        string
	defaultHost string
	defaultPort int
	secret      string
	ttl         time.Duration
	items       []any
	access      map[string]bool
	now         func() time.Time
	log         *slog.Logger
	isLocalUser func(jid.JID) bool
}

// NewServiceSet reads the external_service* options of host h. Items of
// external_services that are not usable are logged and skipped each time
// the services are listed, as Prosody does.
func NewServiceSet(h *server.Host) (*ServiceSet, error) {
	srv := h.Server()
	cfg := srv.Config()
	s := &ServiceSet{
		host:        h.Name,
		defaultHost: h.Name,
		ttl:         defaultServiceTTL,
		access:      map[string]bool{},
		now:         srv.Clock(),
		log:         srv.Logger().With("module", ExternalServicesName, "host", h.Name),
		isLocalUser: func(j jid.JID) bool { return j.Localpart() != "" && srv.Host(j.Domainpart()) != nil },
	}
	wrap := func(err error) error { return fmt.Errorf("jitsi: %s on %s: %w", ExternalServicesName, h.Name, err) }
	if o, ok := cfg.Get(h.Config, OptExternalServiceHost); ok {
		v, err := o.AsString()
		if err != nil {
			return nil, wrap(err)
		}
		s.defaultHost = v
	}
	if o, ok := cfg.Get(h.Config, OptExternalServicePort); ok {
		v, err := o.AsInt()
		if err != nil {
			return nil, wrap(err)
		}
		if v < 1 || v > 65535 {
			return nil, wrap(fmt.Errorf("%s: %s %d is not a port number", o.Pos, o.Name, v))
		}
		s.defaultPort = int(v)
	}
	if o, ok := cfg.Get(h.Config, OptExternalServiceSecret); ok {
		v, err := o.AsString()
		if err != nil {
			return nil, wrap(err)
		}
		s.secret = v
	}
	if o, ok := cfg.Get(h.Config, OptExternalServiceTTL); ok {
		v, err := o.AsDuration()
		if err != nil {
			return nil, wrap(err)
		}
		s.ttl = v
	}
	if o, ok := cfg.Get(h.Config, OptExternalServices); ok {
		// Bad items are reported once here and left out (Prosody logs them
		// on every request).
		now := s.now()
		for i, item := range o.AsList() {
			if _, err := s.prepare(item, now); err != nil {
				s.log.Error("bad external service definition", "pos", o.Pos.String(), "item", i+1, "err", err)
				continue
			}
			s.items = append(s.items, item)
		}
	}
	if o, ok := cfg.Get(h.Config, OptExternalServiceAccess); ok {
		list, err := o.AsStrings()
		if err != nil {
			return nil, wrap(err)
		}
		for _, a := range list {
			s.access[a] = true
		}
	}
	if len(s.Services()) == 0 {
		s.log.Warn("no services configured or all had errors")
	}
	return s, nil
}

// Register installs the XEP-0215 handlers and features on h.
func (s *ServiceSet) Register(h *server.Host) {
	for _, ns := range []string{NSExtDisco, NSExtDisco1} {
		h.AddFeature(ns)
		h.HandleIQ("get", ns, "services", s.handleServices)
		h.HandleIQ("get", ns, "credentials", s.handleCredentials)
	}
}

// Services prepares every configured item at the current time.
func (s *ServiceSet) Services() []ExternalService {
	now := s.now()
	out := make([]ExternalService, 0, len(s.items))
	for _, item := range s.items {
		if srv, err := s.prepare(item, now); err == nil {
			out = append(out, srv)
		}
	}
	return out
}

// prepare is Prosody's prepare(): one config item to a service record.
func (s *ServiceSet) prepare(v any, now time.Time) (ExternalService, error) {
	item, ok := v.(map[string]any)
	if !ok {
		return ExternalService{}, fmt.Errorf("service definition is not a table: %v", v)
	}
	srv := ExternalService{Host: s.defaultHost, Port: s.defaultPort}
	typ, ok := item["type"].(string)
	if !ok {
		return ExternalService{}, fmt.Errorf("service missing mandatory 'type' field")
	}
	srv.Type = typ
	if t, ok := item["transport"].(string); ok {
		srv.Transport = t
	}
	if h, ok := item["host"].(string); ok {
		srv.Host = h
	}
	if p, ok := luaNumber(item["port"]); ok {
		srv.Port = int(p)
	}
	if u, ok := item["username"].(string); ok {
		srv.Username = u
	}
	if p, ok := item["password"].(string); ok {
		srv.Password = p
		srv.Restricted = true
	}
	if r, ok := item["restricted"].(bool); ok && r {
		srv.Restricted = true
	}
	if e, ok := luaNumber(item["expires"]); ok {
		srv.Expires = unixTime(e)
	} else if ttl, ok := luaNumber(item["ttl"]); ok {
		srv.Expires = unixTime(float64(now.Unix()) + ttl)
	}
	secret, hasSecret := item["secret"].(string)
	if b, ok := item["secret"].(bool); ok && b && s.secret != "" {
		secret, hasSecret = s.secret, true
	}
	if hasSecret && turnRESTAlgorithm(item, srv.Type) {
		ttl := s.ttl.Seconds()
		if t, ok := luaNumber(item["ttl"]); ok {
			ttl = t
		}
		expires := srv.Expires
		if expires.IsZero() {
			expires = unixTime(float64(now.Unix()) + ttl)
		}
		user, _ := item["username"].(string)
		srv.Username, srv.Password = TURNCredentials(secret, expires, user)
		srv.Restricted = true
	}
	return srv, nil
}

// turnRESTAlgorithm reports whether an item with a secret gets TURN REST
// credentials: its algorithm, else its type, must be "turn" or "turns".
func turnRESTAlgorithm(item map[string]any, typ string) bool {
	if a, ok := item["algorithm"].(string); ok && isTURN(a) {
		return true
	}
	return isTURN(typ)
}

func isTURN(s string) bool { return s == "turn" || s == "turns" }

// TURNCredentials computes TURN REST credentials: the username is the
// expiry as Unix seconds, followed by ":user" when user is not empty, and
// the password is base64(HMAC-SHA1(secret, username)).
func TURNCredentials(secret string, expires time.Time, user string) (username, password string) {
	username = strconv.FormatInt(expires.Unix(), 10)
	if user != "" {
		username += ":" + user
	}
	return username, turnPassword(secret, username)
}

func turnPassword(secret, username string) string {
	mac := hmac.New(sha1.New, []byte(secret))
	mac.Write([]byte(username))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// ServicesElement builds <name xmlns=ns> with one <service/> per record,
// as Prosody's services_xml does; name and ns default to "services" and
// urn:xmpp:extdisco:2.
func ServicesElement(list []ExternalService, name, ns string) *stanza.Element {
	if name == "" {
		name = "services"
	}
	if ns == "" {
		ns = NSExtDisco
	}
	el := stanza.New(ns, name)
	for _, srv := range list {
		e := stanza.New(ns, "service").
			Set("type", srv.Type).
			Set("transport", srv.Transport).
			Set("host", srv.Host).
			Set("username", srv.Username).
			Set("password", srv.Password)
		if srv.Port != 0 {
			e.Set("port", strconv.Itoa(srv.Port))
		}
		if !srv.Expires.IsZero() {
			e.Set("expires", xmppDateTime(srv.Expires))
		}
		if srv.Restricted {
			e.Set("restricted", "1")
		}
		el.Add(e)
	}
	return el
}

// allowed is the access check of the services request: anyone logged in
// to this server when external_service_access is empty, else the listed
// bare JIDs and domains.
func (s *ServiceSet) allowed(from jid.JID) bool {
	if len(s.access) == 0 {
		return s.isLocalUser(from)
	}
	return s.access[from.Bare().String()] || s.access[from.Domainpart()]
}

func (s *ServiceSet) handleServices(_ context.Context, iq *server.IQ) (*stanza.Element, error) {
	from, err := jid.Parse(iq.Stanza.Get("from"))
	if err != nil || !s.allowed(from) {
		return nil, &server.StanzaError{Type: "auth", Condition: "forbidden"}
	}
	list := s.Services()
	if want := iq.Payload.Get("type"); want != "" {
		kept := list[:0]
		for _, srv := range list {
			if srv.Type == want {
				kept = append(kept, srv)
			}
		}
		list = kept
	}
	return iq.Result().Add(ServicesElement(list, iq.Payload.Name.Local, iq.Payload.Name.Space)), nil
}

func (s *ServiceSet) handleCredentials(_ context.Context, iq *server.IQ) (*stanza.Element, error) {
	from, err := jid.Parse(iq.Stanza.Get("from"))
	if err != nil || !s.isLocalUser(from) {
		return nil, &server.StanzaError{Type: "auth", Condition: "forbidden"}
	}
	requested := map[string]bool{}
	for _, c := range iq.Payload.Elements() {
		if c.Name.Local != "service" {
			continue
		}
		typ, host := c.Get("type"), c.Get("host")
		if typ == "" || host == "" {
			return nil, &server.StanzaError{Type: "modify", Condition: "bad-request", Text: "The 'port' and 'type' attributes are required."}
		}
		port, _ := strconv.Atoi(strings.TrimSpace(c.Get("port")))
		requested[serviceKey(typ, host, port)] = true
	}
	var list []ExternalService
	for _, srv := range s.Services() {
		if srv.Restricted && (requested[serviceKey(srv.Type, srv.Host, srv.Port)] || requested[serviceKey(srv.Type, srv.Host, 0)]) {
			list = append(list, srv)
		}
	}
	return iq.Result().Add(ServicesElement(list, iq.Payload.Name.Local, iq.Payload.Name.Space)), nil
}

func serviceKey(typ, host string, port int) string {
	return typ + ":" + host + ":" + strconv.Itoa(port)
}

// luaNumber accepts the numbers the config loader produces.
func luaNumber(v any) (float64, bool) {
	switch n := v.(type) {
	case int64:
		return float64(n), true
	case float64:
		if math.IsNaN(n) || math.IsInf(n, 0) {
			return 0, false
		}
		return n, true
	case int:
		return float64(n), true
	}
	return 0, false
}

// unixTime converts Unix seconds, possibly fractional, to a time.
func unixTime(secs float64) time.Time {
	whole := math.Floor(secs)
	return time.Unix(int64(whole), int64((secs-whole)*1e9)).UTC()
}

// xmppDateTime formats t as XEP-0082 DateTime in UTC, with microseconds
// only when there is a fraction, as Prosody's util.datetime does.
func xmppDateTime(t time.Time) string {
	t = t.UTC()
	if t.Nanosecond() == 0 {
		return t.Format("2006-01-02T15:04:05Z")
	}
	return t.Format("2006-01-02T15:04:05") + fmt.Sprintf(".%06dZ", t.Nanosecond()/1000)
}
