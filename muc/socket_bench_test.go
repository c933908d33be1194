package muc_test

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/muc"
	"github.com/parley-xmpp/parley/server"
	"github.com/parley-xmpp/parley/server/servertest"
	"github.com/parley-xmpp/parley/server/stanza"
)

// sockClient is a raw c2s connection whose reader only scans the bytes
// for status 110 (sent to nobody but the occupant itself), so that the
// benchmark's clients cost little next to the server.
type sockClient struct {
	conn net.Conn
	jid  string
	self chan struct{}
}

const marker = "code='110'"

func dialSock(b *testing.B, srv *servertest.Server, name string) *sockClient {
	b.Helper()
	srv.CreateUser(name, host, "pw")
	raw := servertest.DialRaw(b, srv.C2SAddr)
	j := raw.Login(host, name, "pw", "res")
	_ = raw.Conn.SetDeadline(time.Time{})
	c := &sockClient{conn: raw.Conn, jid: j, self: make(chan struct{}, 16)}
	go func() {
		buf := make([]byte, 64<<10)
		var tail []byte
		for {
			n, err := raw.Conn.Read(buf)
			if err != nil {
				return
			}
			chunk := append(tail, buf[:n]...)
			for {
				i := bytes.Index(chunk, []byte(marker))
				if i < 0 {
					break
				}
				select {
				case c.self <- struct{}{}:
				default:
				}
				chunk = chunk[i+len(marker):]
			}
			keep := min(len(chunk), len(marker)-1)
			tail = append(tail[:0:0], chunk[len(chunk)-keep:]...)
		}
	}()
	return c
}

func (c *sockClient) send(e *stanza.Element) error {
	_, err := c.conn.Write(stanza.AppendIn(nil, e, stanza.NSClient))
	return err
}

// BenchmarkSocketRoom500 is the Jitsi room benchmark over real TCP
// sessions: fill a room with 500 occupants (Jitsi-sized presences), one
// join after the other, then churn at 50 joins/s and 50 leaves/s for two
// seconds. fill-s is the time to fill from empty, churn-join-p99-ms the
// 99th percentile of the time from sending a join to receiving the
// self-presence while the room churns.
func BenchmarkSocketRoom500(b *testing.B) {
	srv := servertest.Start(b, `
authentication = "internal_plain"
allow_unencrypted_plain_auth = true
VirtualHost "localhost"
Component "conference.localhost" "muc"
    muc_room_locking = false
`, servertest.WithServerOptions(server.WithComponentType("muc", muc.Factory())), servertest.WithoutLeakCheck())
	const size, churners = 500, 100
	clients := make([]*sockClient, size+churners)
	for i := range clients {
		clients[i] = dialSock(b, srv, fmt.Sprint("u", i))
	}
	join := func(c *sockClient, occ string) (time.Duration, error) {
		start := time.Now()
		if err := c.send(presence(occ, append([]*stanza.Element{mucX()}, jitsiPresence()...)...)); err != nil {
			return 0, err
		}
		select {
		case <-c.self:
			return time.Since(start), nil
		case <-time.After(30 * time.Second):
			return 0, errors.New("no self-presence")
		}
	}
	round := 0
	var fill time.Duration
	var lat []time.Duration
	for b.Loop() {
		r := room(fmt.Sprint("sock", round))
		round++
		start := time.Now()
		for i := range size {
			if _, err := join(clients[i], fmt.Sprintf("%s/u%d", r, i)); err != nil {
				b.Fatal(err)
			}
		}
		fill += time.Since(start)

		// Churn: every 20 ms one churner joins and one occupant that
		// joined earlier leaves.
		var mu sync.Mutex
		var wg sync.WaitGroup
		tick := time.NewTicker(20 * time.Millisecond)
		for i := range churners {
			<-tick.C
			c := clients[size+i]
			wg.Go(func() {
				d, err := join(c, fmt.Sprintf("%s/c%d", r, i))
				if err != nil {
					b.Error(err)
					return
				}
				mu.Lock()
				lat = append(lat, d)
				mu.Unlock()
			})
			leaver := clients[i]
			_ = leaver.send(el(stanza.NSClient, "presence", "type", "unavailable", "to", fmt.Sprintf("%s/u%d", r, i)))
		}
		tick.Stop()
		wg.Wait()
		b.StopTimer()
		for i, c := range clients {
			nick := fmt.Sprint("u", i)
			if i >= size {
				nick = fmt.Sprint("c", i-size)
			}
			_ = c.send(el(stanza.NSClient, "presence", "type", "unavailable", "to", r+"/"+nick))
		}
		b.StartTimer()
	}
	b.ReportMetric(fill.Seconds()/float64(b.N), "fill-s")
	b.ReportMetric(float64(percentile(lat, 0.50).Microseconds())/1000, "churn-join-p50-ms")
	b.ReportMetric(float64(percentile(lat, 0.99).Microseconds())/1000, "churn-join-p99-ms")
}
