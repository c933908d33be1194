package muc_test

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/parley-xmpp/parley/muc"
	"github.com/parley-xmpp/parley/server"
	"github.com/parley-xmpp/parley/server/servertest"
	"github.com/parley-xmpp/parley/server/stanza"
)

// burstBots is an in-process component whose users fill a room; it counts
// the self-presences (status 110) the room sends them.
type burstBots struct{ joined atomic.Int64 }

func (b *burstBots) Deliver(_ context.Context, el *stanza.Element) {
	if el.Name.Local == "presence" && el.Get("type") == "" && hasStatus(el, "110") {
		b.joined.Add(1)
	}
}

// SECURITY-CASES 173: a new joiner of a 400-occupant room gets the whole
// presence burst: one presence for each of the 399 others, then its own
// with status 110. The 399 are users of an in-process component (so the
// test does not spend 400 TCP logins); the joiner is a real TCP client.
// How long the burst takes is a load figure (BENCHMARKS.md), not asserted
// here.
func TestPresenceBurst400(t *testing.T) {
	const others = 399
	e := newEnv(t, "", "    muc_room_locking = false\n")
	bots := &burstBots{}
	if err := e.srv.AddComponent("bots.localhost", bots); err != nil {
		t.Fatal(err)
	}
	roomJID := room("burst")
	ctx := context.Background()
	for i := 0; i < others; i++ {
		n := strconv.Itoa(i)
		e.srv.Route(ctx, stanza.New(stanza.NSClient, "presence").
			Set("from", "bot"+n+"@bots.localhost/r").Set("to", roomJID+"/bot"+n).
			Add(stanza.New(muc.NS, "x")))
	}
	servertest.Eventually(t, "399 occupants", func() bool { return bots.joined.Load() == others })

	c := e.user("joiner")
	c.Send(presence(roomJID+"/joiner", mucX()))
	seen := map[string]bool{}
	for {
		p := c.Next()
		if p.Name.Local != "presence" {
			continue
		}
		if p.Get("type") != "" {
			t.Fatalf("join answered %s", str(p))
		}
		if p.Get("from") == roomJID+"/joiner" {
			if !hasStatus(p, "110") {
				t.Fatalf("own presence without 110: %s", str(p))
			}
			break
		}
		if seen[p.Get("from")] {
			t.Fatalf("presence of %s twice", p.Get("from"))
		}
		seen[p.Get("from")] = true
	}
	if len(seen) != others {
		t.Fatalf("the joiner got %d occupant presences before its own, want %d", len(seen), others)
	}
}

// BenchmarkPresenceBurst400 measures SECURITY-CASES 173 over TCP: one op
// is a client joining a room of 399 others, reading the 399 presences and
// its own, then leaving (a community report puts the join at about 10 s on
// Prosody 0.11).
func BenchmarkPresenceBurst400(b *testing.B) {
	const others = 399
	srv := servertest.Start(b, `
allow_unencrypted_plain_auth = true
VirtualHost "localhost"
Component "conference.localhost" "muc"
    muc_room_locking = false
`, servertest.WithServerOptions(server.WithComponentType("muc", muc.Factory())))
	bots := &burstBots{}
	if err := srv.AddComponent("bots.localhost", bots); err != nil {
		b.Fatal(err)
	}
	roomJID := room("burst")
	for i := 0; i < others; i++ {
		n := strconv.Itoa(i)
		srv.Route(context.Background(), stanza.New(stanza.NSClient, "presence").
			Set("from", "bot"+n+"@bots.localhost/r").Set("to", roomJID+"/bot"+n).
			Add(stanza.New(muc.NS, "x")))
	}
	servertest.Eventually(b, "399 occupants", func() bool { return bots.joined.Load() == others })
	srv.CreateUser("joiner", "localhost", "pw")
	c := servertest.DialRaw(b, srv.C2SAddr)
	c.Login("localhost", "joiner", "pw", "r")
	self := roomJID + "/joiner"
	for b.Loop() {
		c.Write(`<presence to='` + self + `'><x xmlns='` + muc.NS + `'/></presence>`)
		n := 0
		for p := c.Next(); p.Get("from") != self; p = c.Next() {
			n++
		}
		if n != others {
			b.Fatalf("%d presences before the joiner's own, want %d", n, others)
		}
		c.Write(`<presence to='` + self + `' type='unavailable'/>`)
		for p := c.Next(); p.Get("from") != self; p = c.Next() {
		}
	}
}
