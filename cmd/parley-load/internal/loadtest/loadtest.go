// Package loadtest starts an in-process parley with every transport and
// the MUC component for the load generator's tests, and describes it as a
// scenario target. It is imported by tests only.
package loadtest

import (
	"strings"
	"testing"

	"github.com/parley-xmpp/parley/bosh"
	"github.com/parley-xmpp/parley/cmd/parley-load/internal/scenario"
	"github.com/parley-xmpp/parley/muc"
	"github.com/parley-xmpp/parley/server"
	"github.com/parley-xmpp/parley/server/servertest"
	"github.com/parley-xmpp/parley/server/websocket"
)

// Config is the test server's configuration (after servertest.Defaults).
const Config = `
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
consider_websocket_secure = true
consider_bosh_secure = true
modules_enabled = { "websocket", "bosh" }

VirtualHost "load.test"
    authentication = "internal_hashed"

VirtualHost "anon.test"
    authentication = "anonymous"

Component "conference.load.test" "muc"
    muc_room_locking = false
`

// Users and Password describe the accounts Start creates.
const (
	Users    = 3
	Password = "load-password"
)

// Server is a started test server.
type Server struct {
	*servertest.Server
	Target scenario.Target
}

// Start runs parley with WebSocket, BOSH and MUC and Users accounts
// user0.. on load.test.
func Start(t testing.TB, opts ...servertest.Option) *Server {
	t.Helper()
	opts = append([]servertest.Option{servertest.WithServerOptions(
		server.WithModules(websocket.New(websocket.Options{}), bosh.New(bosh.Options{})),
		server.WithComponentType("muc", muc.Factory()),
	)}, opts...)
	srv := servertest.Start(t, Config, opts...)
	for i := range Users {
		srv.CreateUser("user"+string(rune('0'+i)), "load.test", Password)
	}
	ws := strings.Replace(srv.HTTPURL, "http://", "ws://", 1)
	return &Server{
		Server: srv,
		Target: scenario.Target{
			Name:       "parley-test",
			C2S:        srv.C2SAddr,
			WebSocket:  ws + "/xmpp-websocket",
			BOSH:       srv.HTTPURL + "/http-bind",
			Domain:     "load.test",
			AnonDomain: "anon.test",
			MUC:        "conference.load.test",
			Users:      Users,
			UserPrefix: "user",
			Password:   Password,
		},
	}
}
