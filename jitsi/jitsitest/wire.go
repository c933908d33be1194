package jitsitest

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/parley-xmpp/parley/server/stanza"
)

// readLimits bound what the test clients accept from the server: as much
// as Jicofo's unlimited_jids allowance (10 MiB).
var readLimits = stanza.Limits{MaxStanza: 10 << 20}

// wire is one XMPP framing: a TCP stream (RFC 6120) or WebSocket messages
// (RFC 7395). Writes are serialised by the caller; reads happen on one
// goroutine at a time.
type wire interface {
	// open sends a stream header (or <open/>) to domain and reads the
	// server's header and stream features.
	open(ctx context.Context, domain string) (*stanza.Element, error)
	// write sends one top-level element.
	write(ctx context.Context, el *stanza.Element) error
	// read returns the next top-level element.
	read() (*stanza.Element, error)
	// startTLS upgrades the connection after <proceed/>.
	startTLS(ctx context.Context, cfg *tls.Config) error
	// restart prepares for a new stream after SASL success.
	restart()
	// close ends the stream and the connection.
	close() error
	// name is "tcp" or "websocket", for errors.
	name() string
}

// deadline is the write deadline for ctx (a default when it has none).
func deadline(ctx context.Context) time.Time {
	if d, ok := ctx.Deadline(); ok {
		return d
	}
	return time.Now().Add(30 * time.Second)
}

// tcpWire is an RFC 6120 client stream on a TCP (or TLS) connection.
type tcpWire struct {
	conn net.Conn
	r    *stanza.Reader
	once sync.Once
}

func dialTCP(ctx context.Context, addr string) (*tcpWire, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("jitsitest: dial %s: %w", addr, err)
	}
	return &tcpWire{conn: conn, r: stanza.NewReader(conn, readLimits)}, nil
}

func (w *tcpWire) name() string { return "tcp" }

func (w *tcpWire) open(ctx context.Context, domain string) (*stanza.Element, error) {
	hdr := `<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='` +
		escapeAttr(domain) + `' version='1.0' xml:lang='en'>`
	_ = w.conn.SetWriteDeadline(deadline(ctx))
	if _, err := w.conn.Write([]byte(hdr)); err != nil {
		return nil, fmt.Errorf("jitsitest: write stream header: %w", err)
	}
	stop := context.AfterFunc(ctx, func() { _ = w.conn.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	if _, err := w.r.ReadHeader(); err != nil {
		return nil, fmt.Errorf("jitsitest: read stream header: %w", err)
	}
	f, err := w.r.Next()
	if err != nil {
		return nil, fmt.Errorf("jitsitest: read stream features: %w", err)
	}
	if f.Name.Space != stanza.NSStream || f.Name.Local != "features" {
		return nil, fmt.Errorf("jitsitest: want stream features, got %s", f)
	}
	return f, nil
}

func (w *tcpWire) write(ctx context.Context, el *stanza.Element) error {
	_ = w.conn.SetWriteDeadline(deadline(ctx))
	if _, err := w.conn.Write(stanza.AppendIn(nil, el, stanza.NSClient)); err != nil {
		return fmt.Errorf("jitsitest: write: %w", err)
	}
	return nil
}

func (w *tcpWire) read() (*stanza.Element, error) { return w.r.Next() }

func (w *tcpWire) startTLS(ctx context.Context, cfg *tls.Config) error {
	tc := tls.Client(w.conn, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		return fmt.Errorf("jitsitest: TLS handshake: %w", err)
	}
	w.conn = tc
	w.r = stanza.NewReader(tc, readLimits)
	return nil
}

func (w *tcpWire) restart() { w.r.Restart() }

func (w *tcpWire) close() error {
	var err error
	w.once.Do(func() {
		_ = w.conn.SetWriteDeadline(time.Now().Add(time.Second))
		_, _ = w.conn.Write([]byte("</stream:stream>"))
		err = w.conn.Close()
	})
	return err
}

// wsWire is an RFC 7395 client on a WebSocket connection.
type wsWire struct {
	conn *websocket.Conn
	once sync.Once
}

func dialWS(ctx context.Context, url string, header http.Header) (*wsWire, error) {
	d := websocket.Dialer{Subprotocols: []string{"xmpp"}, HandshakeTimeout: 15 * time.Second,
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}} //nolint:gosec // test client, like Docker's
	conn, resp, err := d.DialContext(ctx, url, header)
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("jitsitest: websocket dial %s: %w", url, err)
	}
	if conn.Subprotocol() != "xmpp" {
		_ = conn.Close()
		return nil, fmt.Errorf("jitsitest: websocket subprotocol %q, want xmpp", conn.Subprotocol())
	}
	conn.SetReadLimit(int64(readLimits.MaxStanza))
	return &wsWire{conn: conn}, nil
}

func (w *wsWire) name() string { return "websocket" }

func (w *wsWire) open(ctx context.Context, domain string) (*stanza.Element, error) {
	open := stanza.New(stanza.NSFraming, "open").Set("to", domain).Set("version", "1.0")
	if err := w.write(ctx, open); err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { _ = w.conn.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	hdr, err := w.read()
	if err != nil {
		return nil, fmt.Errorf("jitsitest: read <open/>: %w", err)
	}
	if hdr.Name.Space != stanza.NSFraming || hdr.Name.Local != "open" {
		return nil, fmt.Errorf("jitsitest: want <open/>, got %s", hdr)
	}
	f, err := w.read()
	if err != nil {
		return nil, fmt.Errorf("jitsitest: read stream features: %w", err)
	}
	if f.Name.Space != stanza.NSStream || f.Name.Local != "features" {
		return nil, fmt.Errorf("jitsitest: want stream features, got %s", f)
	}
	return f, nil
}

func (w *wsWire) write(ctx context.Context, el *stanza.Element) error {
	_ = w.conn.SetWriteDeadline(deadline(ctx))
	if err := w.conn.WriteMessage(websocket.TextMessage, stanza.Append(nil, el)); err != nil {
		return fmt.Errorf("jitsitest: websocket write: %w", err)
	}
	return nil
}

func (w *wsWire) read() (*stanza.Element, error) {
	_, data, err := w.conn.ReadMessage()
	if err != nil {
		return nil, fmt.Errorf("jitsitest: websocket read: %w", err)
	}
	el, err := stanza.Parse(data, readLimits)
	if err != nil {
		return nil, fmt.Errorf("jitsitest: websocket frame: %w", err)
	}
	if el.Name.Space == stanza.NSFraming && el.Name.Local == "close" {
		return nil, stanza.ErrStreamEnd
	}
	return el, nil
}

func (w *wsWire) startTLS(context.Context, *tls.Config) error {
	return errors.New("jitsitest: STARTTLS is not available on WebSocket")
}

func (w *wsWire) restart() {}

func (w *wsWire) close() error {
	var err error
	w.once.Do(func() {
		_ = w.conn.SetWriteDeadline(time.Now().Add(time.Second))
		_ = w.conn.WriteMessage(websocket.TextMessage, stanza.Append(nil, stanza.New(stanza.NSFraming, "close")))
		err = w.conn.Close()
	})
	return err
}

// escapeAttr escapes s for a single-quoted XML attribute.
func escapeAttr(s string) string {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '&':
			out = append(out, "&amp;"...)
		case '<':
			out = append(out, "&lt;"...)
		case '\'':
			out = append(out, "&apos;"...)
		case '"':
			out = append(out, "&quot;"...)
		default:
			out = append(out, c)
		}
	}
	return string(out)
}
