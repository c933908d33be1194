package muc_test

// Benchmarks run at the Deliver level: stanzas go straight to the MUC
// component, and everything it sends goes to a muctest.Sink component that
// serializes each stanza (as a session's transport would) and counts it.
// What is left out is the TCP write and the client's parsing; see
// BENCHMARKS.md for the socket-level figures.

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/muc"
	"github.com/parley-xmpp/parley/muc/muctest"
	"github.com/parley-xmpp/parley/server/stanza"
)

// jitsiPresence is a presence as heavy as a Jitsi Meet client's.
func jitsiPresence() []*stanza.Element {
	return []*stanza.Element{
		el("", "stats-id").AddText("Wilma-Xyz"),
		el("http://jabber.org/protocol/caps", "c", "hash", "sha-1", "node", "https://jitsi.org/jitsi-meet", "ver", "w2ZrLd5wXBdLTN4Ly8Jn+Hj6M1k="),
		el("", "jitsi_participant_codecList").AddText("vp9,vp8,h264,av1"),
		el("http://jitsi.org/jitmeet/audio", "audiomuted").AddText("true"),
		el("http://jitsi.org/jitmeet/video", "videomuted").AddText("false"),
		el("", "SourceInfo").AddText(`{"abcdef01-a0":{"muted":true},"abcdef01-v0":{"muted":false,"videoType":"camera"}}`),
		el("http://jabber.org/protocol/nick", "nick").AddText("A participant"),
	}
}

// populated returns a harness with a room of n occupants. With quiet,
// presence broadcast is off while filling (and turned on afterwards), so
// that big rooms fill in linear time.
func populated(b *testing.B, n int, quiet bool) (*muctest.Harness, string) {
	b.Helper()
	cfg := "muc_room_locking = false\n"
	if quiet {
		cfg += "muc_room_default_presence_broadcast = { }\n"
	}
	h := muctest.New(b, "", cfg)
	h.Sink.CountOnly = true
	r := muctest.Room("bench")
	for i := range n {
		h.Join(muctest.User(fmt.Sprint("u", i)), fmt.Sprintf("%s/u%d", r, i), jitsiPresence()...)
	}
	if quiet {
		err := h.Service.Do(context.Background(), r, func(rm *muc.Room) {
			rm.Config().PresenceBroadcast = []muc.Role{muc.RoleVisitor, muc.RoleParticipant, muc.RoleModerator}
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	h.Sink.Frame = true
	h.Sink.Reset()
	return h, r
}

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, int(float64(len(s))*p))]
}

// BenchmarkJoinFanout500 measures one join into a 500-occupant room plus
// one leave (the room stays at 500): the joiner's occupant list, the
// broadcast of its presence to 500 occupants, and the leave's broadcast.
// join-p99-ms is the 99th percentile of the join alone.
func BenchmarkJoinFanout500(b *testing.B) {
	h, r := populated(b, 500, false)
	var lat []time.Duration
	i := 0
	for b.Loop() {
		u, occ := muctest.User(fmt.Sprint("x", i)), fmt.Sprintf("%s/x%d", r, i)
		start := time.Now()
		h.Join(u, occ, jitsiPresence()...)
		lat = append(lat, time.Since(start))
		h.Leave(u, occ)
		i++
	}
	b.ReportMetric(float64(percentile(lat, 0.50).Microseconds())/1000, "join-p50-ms")
	b.ReportMetric(float64(percentile(lat, 0.99).Microseconds())/1000, "join-p99-ms")
	b.ReportMetric(float64(h.Sink.Count())/float64(b.N), "stanzas/op")
}

// BenchmarkFill500 measures filling a room from empty to 500 occupants
// with Jitsi-sized presences (every join is broadcast to everyone in).
func BenchmarkFill500(b *testing.B) {
	h := muctest.New(b, "", "muc_room_locking = false\n")
	h.Sink.CountOnly = true
	h.Sink.Frame = true
	round := 0
	for b.Loop() {
		r := muctest.Room(fmt.Sprint("fill", round))
		for i := range 500 {
			h.Join(muctest.User(fmt.Sprint("u", i)), fmt.Sprintf("%s/u%d", r, i), jitsiPresence()...)
		}
		b.StopTimer()
		_ = h.Service.Do(context.Background(), r, func(rm *muc.Room) { _ = rm.Destroy(context.Background(), "", "", "") })
		b.StartTimer()
		round++
	}
	b.ReportMetric(float64(h.Sink.Count())/float64(b.N), "stanzas/op")
}

// BenchmarkFanout10k measures the broadcast of one presence update in a
// room of 10,000 occupants; stanzas/s is the fan-out rate.
func BenchmarkFanout10k(b *testing.B) {
	h, r := populated(b, 10000, true)
	u, occ := muctest.User("u0"), r+"/u0"
	start := time.Now()
	for b.Loop() {
		h.Send(u, occ, el(stanza.NSClient, "presence").Add(jitsiPresence()...))
	}
	b.ReportMetric(float64(h.Sink.Count())/time.Since(start).Seconds(), "stanzas/s")
}

// BenchmarkGroupchat10k measures one groupchat message to 10,000
// occupants.
func BenchmarkGroupchat10k(b *testing.B) {
	h, r := populated(b, 10000, true)
	u := muctest.User("u0")
	start := time.Now()
	for b.Loop() {
		h.Send(u, r, el(stanza.NSClient, "message", "type", "groupchat", "id", "m").Add(el(stanza.NSClient, "body").AddText("hello everyone")))
	}
	b.ReportMetric(float64(h.Sink.Count())/time.Since(start).Seconds(), "stanzas/s")
}
