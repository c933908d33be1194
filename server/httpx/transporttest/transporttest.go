// Package transporttest holds test helpers shared by the tests of parley's
// HTTP transports (BOSH, WebSocket): a SASL and bind driver over any
// element-at-a-time framing, a module that records the session parameters
// seen by the Authenticated hook, and an authentication provider that
// records the auth.Request each stream is offered mechanisms for.
package transporttest

import (
	"context"
	"encoding/base64"
	"fmt"
	"sync"
	"testing"

	"mellium.im/sasl"

	"github.com/parley-xmpp/parley/auth"
	"github.com/parley-xmpp/parley/server"
	"github.com/parley-xmpp/parley/server/stanza"
)

const nsSASL = "urn:ietf:params:xml:ns:xmpp-sasl"

// Exchanger sends one top-level element (serialized XML) and returns the
// next element the server sends back.
type Exchanger func(xml string) *stanza.Element

// SASL authenticates as user with mech over ex and returns the server's
// final element (<success/> or <failure/>). PLAIN and SCRAM take user and
// password; ANONYMOUS ignores them. A SCRAM server signature that does not
// verify fails the test.
func SASL(t testing.TB, ex Exchanger, mech sasl.Mechanism, user, password string) *stanza.Element {
	t.Helper()
	c := sasl.NewClient(mech, sasl.Credentials(func() ([]byte, []byte, []byte) {
		return []byte(user), []byte(password), nil
	}))
	_, resp, err := c.Step(nil)
	if err != nil {
		t.Fatalf("transporttest: SASL %s: %v", mech.Name, err)
	}
	el := ex(fmt.Sprintf("<auth xmlns='%s' mechanism='%s'>%s</auth>", nsSASL, mech.Name, enc(resp)))
	for el.Name.Space == nsSASL && el.Name.Local == "challenge" {
		ch, err := base64.StdEncoding.DecodeString(el.Text())
		if err != nil {
			t.Fatalf("transporttest: challenge: %v", err)
		}
		if _, resp, err = c.Step(ch); err != nil {
			t.Fatalf("transporttest: SASL %s step: %v", mech.Name, err)
		}
		el = ex(fmt.Sprintf("<response xmlns='%s'>%s</response>", nsSASL, enc(resp)))
	}
	if el.Name.Local == "success" && el.Text() != "" {
		data, err := base64.StdEncoding.DecodeString(el.Text())
		if err != nil {
			t.Fatalf("transporttest: success data: %v", err)
		}
		if _, _, err := c.Step(data); err != nil {
			t.Fatalf("transporttest: SASL %s: server signature: %v", mech.Name, err)
		}
	}
	return el
}

func enc(b []byte) string {
	if len(b) == 0 {
		return "="
	}
	return base64.StdEncoding.EncodeToString(b)
}

// BindIQ is a resource binding request with id "bind1".
const BindIQ = `<iq xmlns='jabber:client' type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>`

// BoundJID returns the JID in a bind result, failing the test otherwise.
func BoundJID(t testing.TB, el *stanza.Element) string {
	t.Helper()
	if el.Name.Local != "iq" || el.Get("type") != "result" {
		t.Fatalf("transporttest: bind: %s", el)
	}
	j := el.Child("", "bind").ChildText("", "jid")
	if j == "" {
		t.Fatalf("transporttest: bind result without a JID: %s", el)
	}
	return j
}

// Mechanisms returns the SASL mechanisms of a features element.
func Mechanisms(features *stanza.Element) []string {
	var out []string
	if m := features.Child(nsSASL, "mechanisms"); m != nil {
		for _, c := range m.Elements() {
			out = append(out, c.Text())
		}
	}
	return out
}

// ParamsModule is a test module ("test_params") that records the
// parameters of every session that authenticates, read with Session.Params
// from the Authenticated hook.
type ParamsModule struct {
	// Seen receives the parameters of each authenticated session (while
	// it has room; later ones are dropped).
	Seen chan map[string]string
}

// NewParamsModule returns a ParamsModule with a buffered channel.
func NewParamsModule() *ParamsModule { return &ParamsModule{Seen: make(chan map[string]string, 16)} }

// Name implements server.Module.
func (p *ParamsModule) Name() string { return "test_params" }

// Load implements server.Module.
func (p *ParamsModule) Load(_ context.Context, h *server.Host) error {
	h.Events.Authenticated.On(0, "test_params", func(_ context.Context, ev *server.AuthEvent) error {
		select {
		case p.Seen <- ev.Session.Params():
		default: // nobody is looking
		}
		return nil
	})
	return nil
}

// Recorder is an authentication provider ("recording") that offers
// ANONYMOUS and records the auth.Request of every stream it is asked
// about: the transport's Secure, RemoteAddr and Params as the core sees
// them.
type Recorder struct {
	mu   sync.Mutex
	reqs []auth.Request
}

// Option returns the server option that registers the provider.
func (r *Recorder) Option() server.Option {
	return server.WithAuthProvider("recording", func(h *server.Host) (auth.Provider, error) {
		return &recording{Provider: auth.NewAnonymous(h.Name, auth.AnonymousOptions{}), r: r}, nil
	})
}

// Requests returns the requests recorded so far.
func (r *Recorder) Requests() []auth.Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]auth.Request(nil), r.reqs...)
}

type recording struct {
	auth.Provider
	r *Recorder
}

func (p *recording) Mechanisms(req *auth.Request) []string {
	p.r.mu.Lock()
	p.r.reqs = append(p.r.reqs, *req)
	p.r.mu.Unlock()
	return p.Provider.Mechanisms(req)
}
