package jitsi

import (
	"context"
	"slices"

	"github.com/parley-xmpp/parley/config"
	"github.com/parley-xmpp/parley/server"
)

// Module names of features_identity and of the deprecated host modules
// that only load it.
const (
	FeaturesIdentityName = "features_identity"
	// OptMUCMapperDomainBase is the global option naming the main
	// VirtualHost (the one clients discover components on).
	OptMUCMapperDomainBase = "muc_mapper_domain_base"
)

// isIdentityLoader reports whether a host module makes its host accept
// component identities: features_identity itself and Jitsi's deprecated
// stubs that only depend on it (mod_speakerstats, mod_av_moderation,
// mod_room_metadata).
func isIdentityLoader(module string) bool {
	switch module {
	case FeaturesIdentityName, "speakerstats", "av_moderation", "room_metadata":
		return true
	}
	return false
}

// ComponentIdentity is the disco#info identity a Jitsi component announces
// on the main host: category "component", the feature as type and the
// component's address as name (what lib-jitsi-meet and jicofo read).
func ComponentIdentity(typ, address string) server.Identity {
	return server.Identity{Category: "component", Type: typ, Name: address}
}

// AnnounceComponent is what Jitsi's components do with the
// jitsi-add-identity event: when the main VirtualHost (the
// muc_mapper_domain_base option, read from the component's section or the
// global one) loads features_identity, the identity component/typ with the
// component's address as name is added to its disco#info. It reports
// whether the identity was added. Components call it from their factory;
// sec is their config section (nil for the global section).
func AnnounceComponent(srv *server.Server, sec config.Section, typ, address string) bool {
	cfg := srv.Config()
	o, ok := cfg.Get(sec, OptMUCMapperDomainBase)
	if !ok {
		return false
	}
	main, err := o.AsString()
	if err != nil || main == "" {
		return false
	}
	h := srv.Host(main)
	if h == nil || !AcceptsIdentities(h) {
		return false
	}
	srv.Logger().Info("adding identity", "type", typ, "component", address, "host", h.Name)
	h.AddIdentity(ComponentIdentity(typ, address))
	return true
}

// AcceptsIdentities reports whether host h loads features_identity (or one
// of the deprecated modules that depend on it).
func AcceptsIdentities(h *server.Host) bool {
	return slices.ContainsFunc(h.Server().Config().Modules(h.Config), isIdentityLoader)
}

// FeaturesIdentity is Jitsi's mod_features_identity, loaded on the main
// VirtualHost: it lets components (speakerstats, av_moderation,
// end_conference, room_metadata, ...) advertise themselves in the host's
// disco#info through AnnounceComponent. Loading it does nothing by
// itself; AcceptsIdentities looks at modules_enabled.
type FeaturesIdentity struct{ name string }

var _ server.Module = (*FeaturesIdentity)(nil)

// NewFeaturesIdentity returns the features_identity module.
func NewFeaturesIdentity() *FeaturesIdentity { return &FeaturesIdentity{name: FeaturesIdentityName} }

// Name implements server.Module.
func (m *FeaturesIdentity) Name() string { return m.name }

// Load implements server.Module.
func (m *FeaturesIdentity) Load(context.Context, *server.Host) error { return nil }

// DeprecatedIdentityModules returns Jitsi's deprecated host modules
// speakerstats, av_moderation and room_metadata: each only logs a warning
// and, like features_identity, lets components announce themselves on the
// host (their real work moved to the *_component components).
func DeprecatedIdentityModules() []server.Module {
	return []server.Module{
		&deprecatedStub{name: "speakerstats"},
		&deprecatedStub{name: "av_moderation"},
		&deprecatedStub{name: "room_metadata"},
	}
}

type deprecatedStub struct{ name string }

// Name implements server.Module.
func (m *deprecatedStub) Name() string { return m.name }

// Load implements server.Module.
func (m *deprecatedStub) Load(_ context.Context, h *server.Host) error {
	h.Server().Logger().Warn("module is deprecated and will be removed in a future release; "+
		"remove it from modules_enabled (its component does the work)", "module", m.name, "host", h.Name)
	return nil
}
