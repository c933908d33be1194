package server_test

import (
	"context"
	"testing"

	"github.com/parley-xmpp/parley/server/servertest"
	"github.com/parley-xmpp/parley/server/stanza"
)

type echoComponent struct {
	srv interface {
		Route(context.Context, *stanza.Element)
	}
}

func (e *echoComponent) Deliver(ctx context.Context, el *stanza.Element) {
	if el.Name.Local != "message" {
		return
	}
	reply := el.Copy().Set("from", el.Get("to")).Set("to", el.Get("from"))
	e.srv.Route(ctx, reply)
}

func TestServerIQs(t *testing.T) {
	srv := servertest.Start(t, twoHosts)
	if err := srv.AddComponent("echo.example.com", &echoComponent{srv: srv.Server}); err != nil {
		t.Fatal(err)
	}
	srv.CreateUser("alice", "example.com", "secret")
	alice := srv.Connect(t, "alice@example.com", "secret", servertest.ClientOptions{})

	tests := []struct {
		name    string
		typ, to string
		payload *stanza.Element
		check   func(t *testing.T, reply *stanza.Element)
	}{
		{"ping", "get", "example.com", stanza.New("urn:xmpp:ping", "ping"), resultOK},
		{"ping own account", "get", "alice@example.com", stanza.New("urn:xmpp:ping", "ping"), resultOK},
		{"version", "get", "example.com", stanza.New("jabber:iq:version", "query"), func(t *testing.T, r *stanza.Element) {
			if r.Child("jabber:iq:version", "query").ChildText("", "name") != "parley" {
				t.Fatalf("version reply %s", r)
			}
		}},
		{"time", "get", "example.com", stanza.New("urn:xmpp:time", "time"), func(t *testing.T, r *stanza.Element) {
			if r.Child("urn:xmpp:time", "time").ChildText("", "utc") == "" {
				t.Fatalf("time reply %s", r)
			}
		}},
		{"uptime", "get", "example.com", stanza.New("jabber:iq:last", "query"), func(t *testing.T, r *stanza.Element) {
			if !r.Child("jabber:iq:last", "query").Has("seconds") {
				t.Fatalf("uptime reply %s", r)
			}
		}},
		{"disco info", "get", "example.com", stanza.New(servertestNSInfo, "query"), func(t *testing.T, r *stanza.Element) {
			q := r.Child(servertestNSInfo, "query")
			if !hasFeature(q, "urn:xmpp:ping") || !hasFeature(q, servertestNSInfo) {
				t.Fatalf("disco#info lacks features: %s", r)
			}
			if id := q.Child("", "identity"); id == nil || id.Get("category") != "server" {
				t.Fatalf("disco#info identity: %s", r)
			}
		}},
		{"disco items lists components", "get", "example.com", stanza.New(servertestNSItems, "query"), func(t *testing.T, r *stanza.Element) {
			q := r.Child(servertestNSItems, "query")
			found := false
			for _, it := range q.Elements() {
				found = found || it.Get("jid") == "echo.example.com"
			}
			if !found {
				t.Fatalf("disco#items without the component: %s", r)
			}
		}},
		{"unknown payload", "get", "example.com", stanza.New("urn:example:nothing", "query"), func(t *testing.T, r *stanza.Element) {
			if r.Get("type") != "error" || r.Child("", "error").Child(stanza.NSStanzas, "service-unavailable") == nil {
				t.Fatalf("want service-unavailable, got %s", r)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.check(t, alice.Request(iq(tc.typ, tc.to, tc.payload)))
		})
	}

	t.Run("in-process component", func(t *testing.T) {
		m := stanza.New(stanza.NSClient, "message").Set("to", "echo.example.com").Set("id", "e1")
		m.Add(stanza.New(stanza.NSClient, "body").AddText("echo"))
		alice.Send(m)
		got := alice.Next()
		if got.Get("from") != "echo.example.com" || got.ChildText("", "body") != "echo" {
			t.Fatalf("echo reply %s", got)
		}
	})

	t.Run("no reply to an error", func(t *testing.T) {
		e := iq("error", "example.com", stanza.New("urn:xmpp:ping", "ping")).Set("id", "err1")
		alice.Send(e)
		reply := alice.Request(iq("get", "example.com", stanza.New("urn:xmpp:ping", "ping")).Set("id", "after"))
		if reply.Get("id") != "after" {
			t.Fatalf("got %s", reply)
		}
		select {
		case extra := <-alice.In:
			t.Fatalf("unexpected stanza after an error: %s", extra)
		default:
		}
	})
}

const (
	servertestNSInfo  = "http://jabber.org/protocol/disco#info"
	servertestNSItems = "http://jabber.org/protocol/disco#items"
)

func resultOK(t *testing.T, r *stanza.Element) {
	t.Helper()
	if r.Get("type") != "result" {
		t.Fatalf("want a result, got %s", r)
	}
}

func hasFeature(q *stanza.Element, v string) bool {
	if q == nil {
		return false
	}
	for _, f := range q.Elements() {
		if f.Name.Local == "feature" && f.Get("var") == v {
			return true
		}
	}
	return false
}

func TestRosterPushAndSubscription(t *testing.T) {
	srv := servertest.Start(t, twoHosts)
	srv.CreateUser("alice", "example.com", "secret")
	srv.CreateUser("bob", "example.com", "secret")
	alice := srv.Connect(t, "alice@example.com/a", "secret", servertest.ClientOptions{})
	bob := srv.Connect(t, "bob@example.com/b", "secret", servertest.ClientOptions{})
	for _, c := range []*servertest.Client{alice, bob} {
		r := c.Request(iq("get", "", stanza.New("jabber:iq:roster", "query")))
		if r.Get("type") != "result" {
			t.Fatalf("roster get: %s", r)
		}
		c.Send(stanza.New(stanza.NSClient, "presence"))
		c.Next()
	}
	item := stanza.New("jabber:iq:roster", "item").Set("jid", "bob@example.com").Set("name", "Bob")
	item.Add(stanza.New("jabber:iq:roster", "group").AddText("Friends"))
	set := iq("set", "", stanza.New("jabber:iq:roster", "query").Add(item)).Set("id", "rs1")
	alice.Send(set)
	push := alice.NextMatch(func(el *stanza.Element) bool { return el.Get("type") == "set" })
	pi := push.Child("jabber:iq:roster", "query").Child("", "item")
	if pi.Get("jid") != "bob@example.com" || pi.Get("name") != "Bob" || pi.ChildText("", "group") != "Friends" || pi.Get("subscription") != "none" {
		t.Fatalf("roster push %s", push)
	}
	alice.NextMatch(func(el *stanza.Element) bool { return el.Get("id") == "rs1" && el.Get("type") == "result" })

	alice.Send(stanza.New(stanza.NSClient, "presence").Set("type", "subscribe").Set("to", "bob@example.com"))
	push = alice.NextMatch(func(el *stanza.Element) bool { return el.Name.Local == "iq" && el.Get("type") == "set" })
	if got := push.Child("jabber:iq:roster", "query").Child("", "item").Get("ask"); got != "subscribe" {
		t.Fatalf("push after subscribe lacks ask: %s", push)
	}
	req := bob.NextMatch(func(el *stanza.Element) bool { return el.Name.Local == "presence" })
	if req.Get("type") != "subscribe" || req.Get("from") != "alice@example.com" {
		t.Fatalf("bob got %s", req)
	}
	bob.Send(stanza.New(stanza.NSClient, "presence").Set("type", "subscribed").Set("to", "alice@example.com"))
	push = alice.NextMatch(func(el *stanza.Element) bool {
		return el.Name.Local == "iq" && el.Get("type") == "set" && el.Child("jabber:iq:roster", "query").Child("", "item").Get("subscription") == "to"
	})
	_ = push
	// Bob's available presence reaches Alice once she is subscribed.
	pres := alice.NextMatch(func(el *stanza.Element) bool {
		return el.Name.Local == "presence" && el.Get("from") == bob.JID.String() && el.Get("type") == ""
	})
	_ = pres
	r := bob.Request(iq("get", "", stanza.New("jabber:iq:roster", "query")))
	bi := r.Child("jabber:iq:roster", "query").Child("", "item")
	if bi == nil || bi.Get("jid") != "alice@example.com" || bi.Get("subscription") != "from" {
		t.Fatalf("bob's roster %s", r)
	}
}
