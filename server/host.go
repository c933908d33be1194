package server

import (
	"context"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/parley-xmpp/parley/auth"
	"github.com/parley-xmpp/parley/config"
	"github.com/parley-xmpp/parley/server/stanza"
	"github.com/parley-xmpp/parley/server/storage"
)

// Identity is a XEP-0030 identity.
type Identity struct {
	Category, Type, Name string
}

// Host is one VirtualHost: its authentication provider, storage, IQ
// handlers, hooks and service discovery data.
type Host struct {
	// Name is the host's domain.
	Name string
	// Config is the host's section of the configuration.
	Config *config.Host
	// Auth is the SASL provider chosen by the "authentication" option.
	Auth auth.Provider
	// Accounts manages accounts, or is nil for hosts without accounts
	// (anonymous).
	Accounts auth.Accounts
	// Store is the host's data store.
	Store storage.Store
	// Events are the host's hook chains.
	Events HostEvents

	srv               *Server
	cfg               *config.Config // the configuration the host was built from
	requireEncryption bool
	iq, ownIQ, bareIQ *iqTable
	nonza             map[string]NonzaHandler
	streamFeatures    []StreamFeature

	rosterMu sync.Mutex

	discoMu    sync.RWMutex
	identities []Identity
	features   []string
}

// NonzaHandler handles a top-level non-stanza element of a namespace (for
// example XEP-0198's) from a bound session.
type NonzaHandler func(ctx context.Context, s *Session, el *stanza.Element) error

// StreamFeature returns a feature to advertise to a bound-to-be session, or
// nil.
type StreamFeature func(s *Session) *stanza.Element

// Server returns the server the host belongs to.
func (h *Host) Server() *Server { return h.srv }

// SourceConfig returns the configuration the host was built from, which
// Config is a section of. For a host a reload adds, it is the new
// configuration even while the host is being built (authentication
// providers are built before Server.Config returns it).
func (h *Host) SourceConfig() *config.Config { return h.cfg }

// HandleNonza registers a handler for top-level elements in namespace ns
// from authenticated sessions. Call during module initialisation only.
func (h *Host) HandleNonza(ns string, fn NonzaHandler) { h.nonza[ns] = fn }

// AddStreamFeature adds a post-authentication stream feature. Call during
// module initialisation only.
func (h *Host) AddStreamFeature(f StreamFeature) { h.streamFeatures = append(h.streamFeatures, f) }

// AddIdentity adds a disco#info identity to the host; components use it for
// Jitsi's features_identity.
func (h *Host) AddIdentity(id Identity) {
	h.discoMu.Lock()
	defer h.discoMu.Unlock()
	if !slices.Contains(h.identities, id) {
		h.identities = append(h.identities, id)
	}
}

// AddFeature adds a disco#info feature to the host.
func (h *Host) AddFeature(v string) {
	h.discoMu.Lock()
	defer h.discoMu.Unlock()
	if !slices.Contains(h.features, v) {
		h.features = append(h.features, v)
	}
}

func (h *Host) discoInfo(_ context.Context, iq *IQ) (*stanza.Element, error) {
	if iq.Payload.Get("node") != "" {
		return nil, &StanzaError{Type: "cancel", Condition: "item-not-found"}
	}
	h.discoMu.RLock()
	ids := slices.Clone(h.identities)
	feats := slices.Clone(h.features)
	h.discoMu.RUnlock()
	q := stanza.New(NSDiscoInfo, "query")
	q.Add(stanza.New(NSDiscoInfo, "identity").Set("category", "server").Set("type", "im").Set("name", "parley"))
	for _, id := range ids {
		q.Add(stanza.New(NSDiscoInfo, "identity").Set("category", id.Category).Set("type", id.Type).Set("name", id.Name))
	}
	feats = append(feats, NSDiscoInfo, NSDiscoItem)
	sort.Strings(feats)
	for _, f := range slices.Compact(feats) {
		q.Add(stanza.New(NSDiscoInfo, "feature").Set("var", f))
	}
	return iq.Result().Add(q), nil
}

// discoItems lists the components that are subdomains of the host, as
// Prosody's mod_disco does.
func (h *Host) discoItems(_ context.Context, iq *IQ) (*stanza.Element, error) {
	if iq.Payload.Get("node") != "" {
		return nil, &StanzaError{Type: "cancel", Condition: "item-not-found"}
	}
	q := stanza.New(NSDiscoItem, "query")
	for _, d := range h.srv.componentDomains() {
		if strings.HasSuffix(d, "."+h.Name) {
			q.Add(stanza.New(NSDiscoItem, "item").Set("jid", d))
		}
	}
	return iq.Result().Add(q), nil
}

// checkAuthenticated runs the Authenticated hooks for a fresh login.
func (h *Host) checkAuthenticated(ctx context.Context, s *Session, user string) error {
	return h.Events.Authenticated.Fire(ctx, &AuthEvent{Session: s, Username: user})
}

// Identities returns the host's disco#info identities, the server's own
// (server/im) first, as disco#info lists them.
func (h *Host) Identities() []Identity {
	h.discoMu.RLock()
	defer h.discoMu.RUnlock()
	return append([]Identity{{Category: "server", Type: "im", Name: "parley"}}, h.identities...)
}
