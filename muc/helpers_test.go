package muc_test

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"slices"
	"strings"
	"testing"

	"mellium.im/xmpp/jid"

	"github.com/parley-xmpp/parley/muc"
	"github.com/parley-xmpp/parley/server"
	"github.com/parley-xmpp/parley/server/servertest"
	"github.com/parley-xmpp/parley/server/stanza"
)

const (
	host = "localhost"
	conf = "conference.localhost"
)

// env is a running server with a MUC component at conf.
type env struct {
	t   *testing.T
	srv *servertest.Server
	n   int
}

// newEnv starts a server whose MUC component section holds componentCfg
// (and whose global section starts with globalCfg).
func newEnv(t *testing.T, globalCfg, componentCfg string, opts ...muc.Option) *env {
	t.Helper()
	cfg := globalCfg + `
VirtualHost "localhost"
Component "conference.localhost" "muc"
` + componentCfg
	srv := servertest.Start(t, cfg, servertest.WithServerOptions(server.WithComponentType("muc", muc.Factory(opts...))))
	return &env{t: t, srv: srv}
}

// user creates an account named name and logs it in.
func (e *env) user(name string) *client {
	e.t.Helper()
	e.srv.CreateUser(name, host, "pw-"+name)
	return &client{Client: e.srv.Connect(e.t, name+"@"+host, "pw-"+name, servertest.ClientOptions{}), t: e.t}
}

// client is a servertest.Client whose writes use a context that is never
// cancelled: mellium v0.22 arms a goroutine per write that, when the
// write's context ends, may reset the deadline of a later write
// (servertest.Client.Send cancels its context right after writing, which
// makes such writes fail at random with "i/o timeout").
type client struct {
	*servertest.Client
	t testing.TB
	n int
}

// Send writes e to the server.
func (c *client) Send(e *stanza.Element) {
	c.t.Helper()
	if err := c.Session.Send(context.Background(), xml.NewDecoder(bytes.NewReader(stanza.AppendIn(nil, e, stanza.NSClient)))); err != nil {
		c.t.Fatalf("%s: send: %v", c.JID, err)
	}
}

// Request sends an IQ (with a fresh id) and returns its response.
func (c *client) Request(e *stanza.Element) *stanza.Element {
	c.t.Helper()
	c.n++
	id := fmt.Sprintf("r%d", c.n)
	e.Set("id", id)
	c.Send(e)
	return c.NextMatch(func(r *stanza.Element) bool {
		return r.Name.Local == "iq" && r.Get("id") == id && (r.Get("type") == "result" || r.Get("type") == "error")
	})
}

// rawUser creates an account and logs in with a raw client bound to
// resource "res" (the server needs allow_unencrypted_plain_auth). Raw
// clients, unlike mellium sessions, do not answer IQs by themselves.
func (e *env) rawUser(name string) *rawClient {
	e.t.Helper()
	e.srv.CreateUser(name, host, "pw-"+name)
	raw := servertest.DialRaw(e.t, e.srv.C2SAddr)
	j := raw.Login(host, name, "pw-"+name, "res")
	return &rawClient{Raw: raw, jid: j}
}

// rawClient is a raw client with stanza helpers.
type rawClient struct {
	*servertest.Raw
	jid string
}

func (c *rawClient) Send(e *stanza.Element) {
	c.Write(string(stanza.AppendIn(nil, e, stanza.NSClient)))
}

func (c *rawClient) NextMatch(match func(*stanza.Element) bool) *stanza.Element {
	c.T.Helper()
	for {
		if e := c.Next(); match(e) {
			return e
		}
	}
}

func el(space, local string, attrs ...string) *stanza.Element {
	e := stanza.New(space, local)
	for i := 0; i+1 < len(attrs); i += 2 {
		e.Set(attrs[i], attrs[i+1])
	}
	return e
}

func presence(to string, children ...*stanza.Element) *stanza.Element {
	return el(stanza.NSClient, "presence", "to", to).Add(children...)
}

func mucX(children ...*stanza.Element) *stanza.Element { return el(muc.NS, "x").Add(children...) }

func iq(typ, to string, payload *stanza.Element) *stanza.Element {
	return el(stanza.NSClient, "iq", "type", typ, "to", to).Add(payload)
}

func room(name string) string { return name + "@" + conf }

// isPresenceFrom matches presence from the occupant JID from.
func isPresenceFrom(from string) func(*stanza.Element) bool {
	return func(e *stanza.Element) bool { return e.Name.Local == "presence" && e.Get("from") == from }
}

// statuses returns the status codes of a stanza's muc#user x.
func statuses(e *stanza.Element) []string {
	x := e.Child(muc.NSUser, "x")
	if x == nil {
		return nil
	}
	var out []string
	for _, c := range x.Elements() {
		if c.Name.Local == "status" {
			out = append(out, c.Get("code"))
		}
	}
	return out
}

func hasStatus(e *stanza.Element, code string) bool { return slices.Contains(statuses(e), code) }

// item returns the first muc#user item.
func item(e *stanza.Element) *stanza.Element {
	x := e.Child(muc.NSUser, "x")
	if x == nil {
		return nil
	}
	return x.Child(muc.NSUser, "item")
}

// errCond returns the type and condition of an error stanza ("", "" if it
// is not one).
func errCond(e *stanza.Element) (string, string) {
	if e.Get("type") != "error" {
		return "", ""
	}
	er := e.Child("", "error")
	if er == nil {
		return "", ""
	}
	for _, c := range er.Elements() {
		if c.Name.Space == stanza.NSStanzas && c.Name.Local != "text" {
			return er.Get("type"), c.Name.Local
		}
	}
	return er.Get("type"), ""
}

func errText(e *stanza.Element) string {
	if er := e.Child("", "error"); er != nil {
		return er.ChildText(stanza.NSStanzas, "text")
	}
	return ""
}

// join sends a join (children in the MUC namespace go into its <x/>) and waits for the self-presence (status 110) or an
// error presence, which it returns.
func join(t *testing.T, c *client, occupantJID string, extra ...*stanza.Element) *stanza.Element {
	t.Helper()
	x := mucX(el(muc.NS, "history", "maxstanzas", "0"))
	p := presence(occupantJID, x)
	for _, e := range extra {
		if e.Name.Space == muc.NS {
			x.Add(e) // <password/>
		} else {
			p.Add(e)
		}
	}
	c.Send(p)
	if j, err := jid.Parse(occupantJID); err == nil {
		occupantJID = j.String()
	}
	return c.NextMatch(func(e *stanza.Element) bool {
		return e.Name.Local == "presence" && e.Get("from") == occupantJID && (e.Get("type") == "error" || hasStatus(e, "110"))
	})
}

// mustJoin is join that fails the test on an error.
func mustJoin(t *testing.T, c *client, occupantJID string, extra ...*stanza.Element) *stanza.Element {
	t.Helper()
	p := join(t, c, occupantJID, extra...)
	if p.Get("type") == "error" {
		t.Fatalf("join %s: %s", occupantJID, p)
	}
	return p
}

// drain discards what c received so far up to and including the subject
// message that ends a join.
func waitSubject(t *testing.T, c *client, roomJID string) {
	t.Helper()
	c.NextMatch(func(e *stanza.Element) bool {
		return e.Name.Local == "message" && e.Child("", "subject") != nil && strings.HasPrefix(e.Get("from"), roomJID)
	})
}

func must(t *testing.T, ok bool, format string, args ...any) {
	t.Helper()
	if !ok {
		t.Fatalf(format, args...)
	}
}

func str(e *stanza.Element) string {
	if e == nil {
		return "<nil>"
	}
	return fmt.Sprint(e)
}

// submitConfig submits the room configuration form with the given fields.
func submitConfig(t *testing.T, c *client, roomJID string, fields map[string]string) *stanza.Element {
	t.Helper()
	x := el(muc.NSDataForms, "x", "type", "submit")
	x.Add(el(muc.NSDataForms, "field", "var", "FORM_TYPE").Add(el(muc.NSDataForms, "value").AddText(muc.NSRoomConfig)))
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		x.Add(el(muc.NSDataForms, "field", "var", k).Add(el(muc.NSDataForms, "value").AddText(fields[k])))
	}
	resp := c.Request(iq("set", roomJID, el(muc.NSOwner, "query").Add(x)))
	if resp.Get("type") != "result" {
		t.Fatalf("config submit: %s", resp)
	}
	return resp
}

func isCond(e *stanza.Element, cond string) bool {
	_, c := errCond(e)
	return c == cond
}
