package websocket_test

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/stanza"
	"github.com/parley-xmpp/parley/server/websocket"
)

// rawWS is a minimal RFC 6455 client with no goroutines or buffers of its
// own once logged in, so that memory measured in-process is the server's
// (plus the client's net.Conn).
type rawWS struct {
	conn net.Conn
	r    *bufio.Reader
}

func dialRaw(addr string) (*rawWS, error) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	req := "GET /xmpp-websocket HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: xmpp\r\n\r\n"
	if _, err := io.WriteString(conn, req); err != nil {
		conn.Close()
		return nil, err
	}
	c := &rawWS{conn: conn, r: bufio.NewReaderSize(conn, 1024)}
	resp, err := http.ReadResponse(c.r, nil)
	if err != nil {
		conn.Close()
		return nil, err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		conn.Close()
		return nil, fmt.Errorf("upgrade: %s", resp.Status)
	}
	return c, nil
}

// send writes one masked text frame (with a zero mask key).
func (c *rawWS) send(s string) error {
	hdr := []byte{0x81, 0}
	switch n := len(s); {
	case n < 126:
		hdr[1] = 0x80 | byte(n)
	case n < 1<<16:
		hdr[1] = 0x80 | 126
		hdr = binary.BigEndian.AppendUint16(hdr, uint16(n))
	default:
		hdr[1] = 0x80 | 127
		hdr = binary.BigEndian.AppendUint64(hdr, uint64(n))
	}
	hdr = append(hdr, 0, 0, 0, 0)
	_, err := c.conn.Write(append(hdr, s...))
	return err
}

// next reads one unfragmented text message, skipping control frames.
func (c *rawWS) next() (string, error) {
	for {
		var h [2]byte
		if _, err := io.ReadFull(c.r, h[:]); err != nil {
			return "", err
		}
		n := uint64(h[1] & 0x7f)
		switch n {
		case 126:
			var b [2]byte
			if _, err := io.ReadFull(c.r, b[:]); err != nil {
				return "", err
			}
			n = uint64(binary.BigEndian.Uint16(b[:]))
		case 127:
			var b [8]byte
			if _, err := io.ReadFull(c.r, b[:]); err != nil {
				return "", err
			}
			n = binary.BigEndian.Uint64(b[:])
		}
		p := make([]byte, n)
		if _, err := io.ReadFull(c.r, p); err != nil {
			return "", err
		}
		if h[0]&0x0f == 1 {
			return string(p), nil
		}
		if h[0]&0x0f == 8 {
			return "", errors.New("closed")
		}
	}
}

// expect reads messages until one contains want.
func (c *rawWS) expect(want string) error {
	for {
		m, err := c.next()
		if err != nil {
			return fmt.Errorf("waiting for %q: %w", want, err)
		}
		if strings.Contains(m, want) {
			return nil
		}
	}
}

// login authenticates anonymously and binds; it returns the full JID and
// drops the client's read buffer.
func (c *rawWS) login() (string, error) {
	open := "<open xmlns='" + stanza.NSFraming + "' to='anon.example' version='1.0'/>"
	steps := []struct{ send, want string }{
		{open, "</stream:features>"},
		{"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='ANONYMOUS'>=</auth>", "<success"},
		{open, "</stream:features>"},
	}
	for _, s := range steps {
		if err := c.send(s.send); err != nil {
			return "", err
		}
		if err := c.expect(s.want); err != nil {
			return "", err
		}
	}
	if err := c.send(`<iq xmlns='jabber:client' type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>`); err != nil {
		return "", err
	}
	m, err := c.next()
	if err != nil {
		return "", err
	}
	_, rest, _ := strings.Cut(m, "<jid>")
	full, _, ok := strings.Cut(rest, "</jid>")
	if !ok {
		return "", fmt.Errorf("bind: %s", m)
	}
	// Stream management with resumption, as lib-jitsi-meet enables it.
	if err := c.send(`<enable xmlns='urn:xmpp:sm:3' resume='true'/>`); err != nil {
		return "", err
	}
	if err := c.expect("<enabled"); err != nil {
		return "", err
	}
	_ = c.conn.SetDeadline(time.Time{})
	c.r = nil
	return full, nil
}

// liveBytes returns the live heap and the goroutine stacks after a GC.
func liveBytes() (heap, stack uint64) {
	// Each GC may halve the stack of an idle goroutine: give them a few.
	for range 5 {
		runtime.GC()
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc, ms.StackInuse
}

// BenchmarkIdleSessionMemory reports the memory held per idle, logged-in
// WebSocket session (heap plus goroutine stacks, measured in-process with
// runtime.MemStats over 1000 sessions; the client side adds only its
// net.Conn).
func BenchmarkIdleSessionMemory(b *testing.B) {
	const n = 1000
	srv := start(b, "", websocket.Options{})
	addr := strings.TrimPrefix(srv.HTTPURL, "http://")
	var heap, stack float64
	for b.Loop() {
		heap0, stack0 := liveBytes()
		clients := make([]*rawWS, 0, n)
		var closed sync.WaitGroup
		for range n {
			c, err := dialRaw(addr)
			if err != nil {
				b.Fatal(err)
			}
			full, err := c.login()
			if err != nil {
				b.Fatal(err)
			}
			s := srv.Router().Session(full)
			if s == nil {
				b.Fatalf("%s not bound", full)
			}
			closed.Add(1)
			s.OnClose(closed.Done)
			clients = append(clients, c)
		}
		heap1, stack1 := liveBytes()
		// HEAPPROF=file writes the live heap with the sessions open.
		if f := os.Getenv("HEAPPROF"); f != "" {
			out, _ := os.Create(f)
			_ = pprof.WriteHeapProfile(out)
			out.Close()
		}
		heap, stack = (float64(heap1)-float64(heap0))/n, (float64(stack1)-float64(stack0))/n
		for _, c := range clients {
			// A clean close: with resumption enabled, a dropped
			// connection would hibernate instead of ending.
			_ = c.send("<close xmlns='" + stanza.NSFraming + "'/>")
			c.conn.Close()
		}
		closed.Wait()
	}
	b.ReportMetric(heap+stack, "B/session")
	b.ReportMetric(heap, "heap-B/session")
	b.ReportMetric(stack, "stack-B/session")
	b.ReportMetric(0, "ns/op")
}
