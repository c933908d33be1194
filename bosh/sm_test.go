package bosh_test

import (
	"strconv"
	"testing"

	"mellium.im/sasl"

	"github.com/parley-xmpp/parley/server/httpx/transporttest"
	"github.com/parley-xmpp/parley/server/servertest"
	"github.com/parley-xmpp/parley/server/stanza"
)

// endpoint is one client connection on some transport, for the XEP-0198
// cross-transport tests.
type endpoint interface {
	send(xml string)
	next() *stanza.Element
	drop()
}

type tcpEnd struct{ r *servertest.Raw }

func (e tcpEnd) send(xml string)       { e.r.Write(xml) }
func (e tcpEnd) next() *stanza.Element { return e.r.Next() }
func (e tcpEnd) drop()                 { _ = e.r.Conn.Close() }

type wsEnd struct{ w *transporttest.WS }

func (e wsEnd) send(xml string)       { e.w.Send(xml) }
func (e wsEnd) next() *stanza.Element { return e.w.Next() }
func (e wsEnd) drop()                 { _ = e.w.Conn.UnderlyingConn().Close() }

type boshEnd struct {
	c   *boshClient
	buf []*stanza.Element
}

func (e *boshEnd) send(xml string) { e.buf = append(e.buf, e.c.send(xml).Elements()...) }
func (e *boshEnd) next() *stanza.Element {
	for i := 0; len(e.buf) == 0; i++ {
		if i > 20 {
			e.c.t.Fatal("bosh: nothing received")
		}
		e.buf = append(e.buf, e.c.send("").Elements()...)
	}
	el := e.buf[0]
	e.buf = e.buf[1:]
	return el
}
func (e *boshEnd) drop() {} // a BOSH client just stops sending requests

// login connects user on transport kind; bind=false stops after SASL, as a
// client about to resume.
func login(t *testing.T, e *env, kind, user string, bind bool) (endpoint, string) {
	t.Helper()
	const host = "example.com"
	switch kind {
	case "tcp":
		r := servertest.DialRaw(t, e.C2SAddr)
		if bind {
			return tcpEnd{r}, r.Login(host, user, "secret", "")
		}
		r.Open(host)
		ex := func(x string) *stanza.Element { r.Write(x); return r.Next() }
		if res := transporttest.SASL(t, ex, sasl.Plain, user, "secret"); res.Name.Local != "success" {
			t.Fatal(res)
		}
		r.R.Restart()
		r.Open(host)
		return tcpEnd{r}, ""
	case "ws":
		w := transporttest.DialWS(t, transporttest.WSURL(e.HTTPURL, ""), nil)
		if bind {
			return wsEnd{w}, w.Login(host, sasl.Plain, user, "secret")
		}
		w.Open(host)
		if res := transporttest.SASL(t, w.Exchange, sasl.Plain, user, "secret"); res.Name.Local != "success" {
			t.Fatal(res)
		}
		w.Open(host)
		return wsEnd{w}, ""
	default:
		c := newBOSH(t, e.HTTPURL+"/http-bind")
		if bind {
			return &boshEnd{c: c}, c.login(host, sasl.Plain, user, "secret")
		}
		c.create(host, "")
		if res := transporttest.SASL(t, c.exchange, sasl.Plain, user, "secret"); res.Name.Local != "success" {
			t.Fatal(res)
		}
		c.restart(host)
		return &boshEnd{c: c}, ""
	}
}

// nextNamed skips stream management requests (<r/>) and returns the next
// other element.
func nextNamed(ep endpoint) *stanza.Element {
	for {
		el := ep.next()
		if el.Name.Local != "r" {
			return el
		}
	}
}

// TestResumeAcrossTransports: a client with N unacknowledged messages in
// flight loses its connection and resumes on another transport; every
// message arrives exactly once, in order (issue 4, XEP-0198).
func TestResumeAcrossTransports(t *testing.T) {
	for _, pair := range [][2]string{{"tcp", "ws"}, {"ws", "bosh"}, {"bosh", "tcp"}, {"ws", "ws"}} {
		t.Run(pair[0]+"->"+pair[1], func(t *testing.T) {
			e := startServer(t, "allow_unencrypted_plain_auth = true\n", "")
			e.CreateUser("alice", "example.com", "secret")
			e.CreateUser("bob", "example.com", "secret")
			alice := e.Connect(t, "alice@example.com", "secret", servertest.ClientOptions{})

			old, bobJID := login(t, e, pair[0], "bob", true)
			old.send(`<enable xmlns='urn:xmpp:sm:3' resume='true'/>`)
			en := nextNamed(old)
			id := en.Get("id")
			if en.Name.Local != "enabled" || id == "" {
				t.Fatalf("enable: %s", en)
			}
			const inFlight, later = 3, 2
			for i := 1; i <= inFlight; i++ {
				alice.Send(chatTo(bobJID, i))
			}
			for i := 1; i <= inFlight; i++ {
				if m := nextNamed(old); m.Name.Local != "message" {
					t.Fatalf("got %s", m)
				}
			}
			old.drop()
			for i := inFlight + 1; i <= inFlight+later; i++ {
				alice.Send(chatTo(bobJID, i))
			}

			fresh, _ := login(t, e, pair[1], "bob", false)
			fresh.send(`<resume xmlns='urn:xmpp:sm:3' previd='` + id + `' h='0'/>`)
			if r := nextNamed(fresh); r.Name.Local != "resumed" {
				t.Fatalf("resume: %s", r)
			}
			for i := 1; i <= inFlight+later; i++ {
				m := nextNamed(fresh)
				if m.Name.Local != "message" || m.Get("id") != strconv.Itoa(i) {
					t.Fatalf("message %d: got %s", i, m)
				}
			}
			// Nothing is delivered twice: the next thing is the ping reply.
			fresh.send(`<iq xmlns='jabber:client' type='get' id='after' to='example.com'><ping xmlns='urn:xmpp:ping'/></iq>`)
			if el := nextNamed(fresh); el.Name.Local != "iq" || el.Get("id") != "after" {
				t.Fatalf("after the replay: %s", el)
			}
		})
	}
}

func chatTo(to string, i int) *stanza.Element {
	m := stanza.New(stanza.NSClient, "message").Set("type", "chat").Set("to", to).Set("id", strconv.Itoa(i))
	return m.Add(stanza.New(stanza.NSClient, "body").AddText("n" + strconv.Itoa(i)))
}
