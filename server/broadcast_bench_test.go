package server_test

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/servertest"
	"github.com/parley-xmpp/parley/server/stanza"
)

// benchPresence is a presence as heavy as a Jitsi Meet occupant's (about
// 1 KB serialized), as a MUC broadcasts it.
func benchPresence() *stanza.Element {
	el := func(ns, local, text string) *stanza.Element { return stanza.New(ns, local).AddText(text) }
	return stanza.New(stanza.NSClient, "presence").Set("from", "room@conference.example.com/abcdef01").Add(
		el("", "stats-id", "Wilma-Xyz"),
		stanza.New("http://jabber.org/protocol/caps", "c").Set("hash", "sha-1").Set("node", "https://jitsi.org/jitsi-meet").Set("ver", "w2ZrLd5wXBdLTN4Ly8Jn+Hj6M1k="),
		el("", "jitsi_participant_codecList", "vp9,vp8,h264,av1"),
		el("http://jitsi.org/jitmeet/audio", "audiomuted", "true"),
		el("http://jitsi.org/jitmeet/video", "videomuted", "false"),
		el("", "SourceInfo", `{"abcdef01-a0":{"muted":true},"abcdef01-v0":{"muted":false,"videoType":"camera"}}`),
		el("http://jabber.org/protocol/nick", "nick", "A participant with a longer display name"),
		el("", "jitsi_participant_region", "region1"),
		el("", "jitsi_participant_e2ee.idKey", "b2n7XhW9bLz7aR4kqk8Yc2mQ7GmO0rS3u1Q5c6T9aB8"),
		stanza.New("http://jabber.org/protocol/muc#user", "x").Add(
			stanza.New("", "item").Set("affiliation", "none").Set("role", "participant").Set("jid", "user@example.com/abcdef01")),
	)
}

// BenchmarkBroadcast500 routes one Jitsi-sized presence to 500 bound TCP
// sessions, as a MUC broadcast does (a shallow copy with its own 'to' per
// recipient, through Server.Route), and waits until every client has read
// its copy: routing, serialization, queueing and the socket writes. Run it
// under bench/cpuop for CPU per broadcast.
func BenchmarkBroadcast500(b *testing.B) {
	const n = 500
	srv := servertest.Start(b, twoHosts, servertest.WithoutLeakCheck())
	srv.CreateUser("alice", "example.com", "secret")
	base := benchPresence()
	jids := make([]string, n)
	var got atomic.Int64
	// arrived wakes the benchmark loop after a reader counted bytes.
	arrived := make(chan struct{}, 1)
	for i := range n {
		c := servertest.DialRaw(b, srv.C2SAddr)
		jids[i] = c.Login("example.com", "alice", "secret", "r"+strconv.Itoa(i))
		_ = c.Conn.SetDeadline(time.Time{})
		go func() {
			buf := make([]byte, 32<<10)
			for {
				k, err := c.Conn.Read(buf)
				got.Add(int64(k))
				select {
				case arrived <- struct{}{}:
				default:
				}
				if err != nil {
					return
				}
			}
		}()
	}
	// What each broadcast writes in all.
	var per int64
	for _, j := range jids {
		per += int64(len(stanza.AppendIn(nil, base.ShallowCopy().Set("to", j), stanza.NSClient)))
	}
	ctx := context.Background()
	var want int64
	for b.Loop() {
		el := base.ShallowCopy()
		for _, j := range jids {
			srv.Route(ctx, el.ShallowCopy().Set("to", j))
		}
		want += per
		for got.Load() < want {
			<-arrived
		}
	}
	b.ReportMetric(float64(per)/n, "bytes/recipient")
	// The readers end when the cleanup closes the connections.
}
