// Package builtin lists parley's built-in modules, component types and
// authentication providers, explicitly and without init() side effects, for
// the parley command and for embedders that want parley's full set.
package builtin

import (
	"log/slog"

	"github.com/parley-xmpp/parley/bosh"
	"github.com/parley-xmpp/parley/jitsi"
	"github.com/parley-xmpp/parley/muc"
	"github.com/parley-xmpp/parley/server"
	"github.com/parley-xmpp/parley/server/httpx"
	"github.com/parley-xmpp/parley/server/websocket"
)

// Options returns server options registering every built-in. Each call
// builds fresh instances, so two servers never share state.
func Options(log *slog.Logger) []server.Option {
	// jiconop tells clients about the breakout rooms component too.
	jc := jitsi.NewJiconop()
	return []server.Option{
		server.WithModules(
			bosh.New(bosh.Options{}),
			websocket.New(websocket.Options{}),
			httpx.NewHealth(),
			jitsi.NewFeaturesIdentity(),
			jitsi.NewExternalServices(),
			jitsi.NewTURNCredentials(),
			jc,
			jitsi.NewMUCSize(nil),
			jitsi.NewMUCCensus(nil, nil),
			jitsi.NewPresenceIdentity(),
			jitsi.NewConferenceDuration(),
			jitsi.NewRateLimit(),
			jitsi.NewMUCLobbyRooms(),
			jitsi.NewBreakoutRooms(jitsi.BreakoutRoomsOptions{Jiconop: jc}),
		),
		server.WithModules(jitsi.DeprecatedIdentityModules()...),
		server.WithComponentType("muc", muc.Factory(append(append(jitsi.MUCModules(), jitsi.TokenMUCModules()...), muc.WithLogger(log))...)),
		server.WithComponentType(jitsi.ClientProxyType, jitsi.ClientProxyFactory()),
		server.WithComponentType(jitsi.SpeakerStatsType, jitsi.SpeakerStatsFactory()),
		server.WithComponentType(jitsi.EndConferenceType, jitsi.EndConferenceFactory()),
		server.WithComponentType(jitsi.AVModerationType, jitsi.AVModerationFactory()),
		server.WithComponentType(jitsi.RoomMetadataType, jitsi.RoomMetadataFactory()),
		server.WithComponentType(jitsi.PollsComponentType, jitsi.PollsComponentFactory()),
		server.WithComponentType(jitsi.FileSharingType, jitsi.FileSharingFactory()),
		// Development and testing only; off unless a config names it.
		server.WithComponentType(jitsi.DevFocusType, jitsi.DevFocusFactory(jitsi.DevFocusOptions{})),
		server.WithAuthProvider(jitsi.JitsiAnonymousProviderName, jitsi.JitsiAnonymousFactory(nil)),
		server.WithAuthProvider(jitsi.TokenProviderName, jitsi.TokenAuthFactory(jitsi.TokenAuthOptions{Logger: log})),
	}
}
