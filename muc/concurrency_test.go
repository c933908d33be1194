package muc_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/parley-xmpp/parley/muc"
	"github.com/parley-xmpp/parley/muc/muctest"
	"github.com/parley-xmpp/parley/server/stanza"
)

// TestConcurrentRooms hammers a few rooms from many goroutines (run it
// with -race): every join is answered, the rooms end empty, and a stanza
// routed back into a room while it sends (a session closing as a slow
// consumer and sending its unavailable presence) does not deadlock.
func TestConcurrentRooms(t *testing.T) {
	h := muctest.New(t, "", `muc_room_locking = false`)
	var selfs atomic.Int64
	var reentered atomic.Int64
	h.Sink.CountOnly = true
	h.Sink.OnDeliver = func(el *stanza.Element) {
		if el.Name.Local == "presence" && el.Get("type") == "" && strings.HasSuffix(el.Get("from"), "/victim") &&
			strings.HasPrefix(el.Get("to"), "victim@") {
			// The victim's session "closes" while the room is sending to
			// it: its unavailable presence re-enters the room at once.
			reentered.Add(1)
			h.Leave(el.Get("to"), el.Get("from"))
		}
		if x := el.Child(muc.NSUser, "x"); x != nil && el.Get("type") == "" {
			for _, c := range x.Elements() {
				if c.Name.Local == "status" && c.Get("code") == "110" {
					selfs.Add(1)
				}
			}
		}
	}
	const workers, rounds = 8, 30
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range rounds {
				r := muctest.Room(fmt.Sprint("room", i%3))
				u := muctest.User(fmt.Sprintf("w%d", w))
				occ := fmt.Sprintf("%s/w%d", r, w)
				h.Join(u, occ, el("urn:example", "state").AddText(fmt.Sprint(i)))
				h.Send(u, r, el(stanza.NSClient, "message", "type", "groupchat").Add(el(stanza.NSClient, "body").AddText("hi")))
				if i%5 == 0 {
					h.Join(muctest.User("victim"), r+"/victim")
				}
				h.Leave(u, occ)
			}
		})
	}
	wg.Wait()
	if selfs.Load() < workers*rounds {
		t.Fatalf("%d self-presences for %d joins", selfs.Load(), workers*rounds)
	}
	if reentered.Load() == 0 {
		t.Fatal("the re-entrant path was not exercised")
	}
	for i := range 3 {
		err := h.Service.Do(context.Background(), muctest.Room(fmt.Sprint("room", i)), func(r *muc.Room) {
			t.Errorf("room%d still has %d occupants", i, r.Count())
		})
		if err == nil {
			continue
		}
	}
}
