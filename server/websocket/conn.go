package websocket

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"
	"mellium.im/xmpp/stream"

	"github.com/parley-xmpp/parley/server"
	"github.com/parley-xmpp/parley/server/httpx"
	"github.com/parley-xmpp/parley/server/stanza"
)

// closeFrame is the RFC 7395 stream end, which Closing returns.
const closeFrame = "<close xmlns='" + stanza.NSFraming + "'/>"

// conn is one WebSocket connection and the transport of its session. A
// reader goroutine drives the session; a writer goroutine drains the
// session's queue (both tracked by the server).
//
// Closing follows RFC 6455 §7: after the session's last frames and our
// close frame, the reader keeps reading (and discarding) until the
// client's close frame or closeTimeout, then closes the TCP connection, so
// that unread client data does not turn the close into a reset that loses
// the stream error. When reads are no longer possible the writer closes the
// connection after its last write.
type conn struct {
	m      *Module
	ws     *websocket.Conn
	br     *bufio.Reader // ws reads through it (see hijacker)
	raw    net.Conn      // the connection under ws
	out    *batchConn    // ws writes through it
	s      *server.Session
	remote string
	secure bool
	params map[string]string

	limits       stanza.Limits // reader-owned: raised for unlimited_jids
	opened       bool          // reader-owned: the current stream has a server <open/>
	draining     bool          // reader-owned: the session ended; waiting for the close frame
	code         atomic.Int32  // close code of the final close frame (default 1000)
	writerCloses atomic.Bool   // the reader is gone: the writer closes the connection
}

// closeTimeout bounds the wait for the client's close frame (Prosody's
// c2s_close_timeout default).
const closeTimeout = 5 * time.Second

// readEnd says how the read loop ended.
type readEnd int

const (
	endBroken  readEnd = iota // the connection failed: close it now
	endDrain                  // the session ended: wait for the close frame
	endHandoff                // reads failed but our last frames are pending: the writer closes
)

func (m *Module) serve(w http.ResponseWriter, r *http.Request) {
	remote, secure := m.settings.Proxies.Client(r)
	params := httpx.Params(r, m.settings.RegionHeader)
	release, ok := m.srv.AcquireConn(remote)
	if !ok {
		server.RefuseOverLimit(w)
		return
	}
	hj := &hijacker{ResponseWriter: w, pool: &m.batches}
	ws, err := m.upgrader.Upgrade(hj, r, nil)
	if err != nil {
		release()
		return // the upgrader answered with an HTTP error
	}
	c := &conn{m: m, ws: ws, br: hj.br, raw: hj.raw, out: hj.out, remote: remote, secure: m.secure || secure, params: params}
	c.s = m.srv.NewSession(c)
	if c.s != nil {
		c.s.OnClose(release)
	} else {
		release()
		_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, "shutting down"), time.Now().Add(time.Second))
		_ = ws.Close()
		return
	}
	// Reader and writer run in goroutines of their own, tracked by the
	// server, so that the HTTP handler returns and the request, the
	// response and the HTTP server's buffers are freed: an idle session
	// keeps only the two goroutines, the WebSocket's small read buffer
	// and the session.
	if !m.srv.Go(c.writeLoop) {
		c.s.Close(server.CloseShutdown, nil)
		_ = ws.Close()
		return
	}
	if !m.srv.Go(c.run) {
		c.s.Close(server.CloseShutdown, nil)
		_ = ws.Close()
	}
}

// hijacker gives the upgrader a read buffer of our own on the hijacked
// connection: with ReadBufferSize 0, gorilla reads through the hijacked
// bufio.Reader, so the reader goroutine can tell when everything received
// has been consumed (gorilla does not say) and wait for more outside
// gorilla's call chain.
//
// It also puts a batchConn between gorilla and the connection, for the
// writer's batches.
type hijacker struct {
	http.ResponseWriter
	pool *sync.Pool
	br   *bufio.Reader
	raw  net.Conn
	out  *batchConn
}

// Hijack implements http.Hijacker.
func (h *hijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := h.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("websocket: the response cannot be hijacked")
	}
	nc, brw, err := hj.Hijack()
	if err != nil || brw.Reader.Buffered() > 0 {
		// The upgrader refuses bytes sent before the handshake completed.
		return nc, brw, err
	}
	h.br = bufio.NewReaderSize(nc, readBufferSize)
	h.raw, h.out = nc, &batchConn{Conn: nc, pool: h.pool}
	return h.out, bufio.NewReadWriter(h.br, brw.Writer), nil
}

// run is the reader goroutine.
func (c *conn) run() {
	switch c.readLoop(c.m.srv.Context()) {
	case endDrain:
		c.drain()
		_ = c.ws.Close()
	case endBroken:
		_ = c.ws.Close()
	case endHandoff:
	}
}

// readLoop reads one message at a time until the session or the connection
// ends.
func (c *conn) readLoop(ctx context.Context) readEnd {
	ws := c.ws
	c.limits = c.m.limits
	if c.limits.MaxStanza <= 0 {
		c.limits.MaxStanza = stanza.DefaultMaxStanza
	}
	// The auth timeout is a read deadline too, so that this goroutine,
	// which drives the session, is the one that closes it: until a
	// resource is bound, no deadline goes past authDeadline.
	authDeadline := time.Now().Add(c.m.opts.AuthTimeout)
	bound := false
	extend := func(string) error {
		if c.draining {
			return nil
		}
		d := time.Now().Add(c.m.opts.ReadTimeout)
		if !bound {
			if bound = c.s.JID().Domainpart() != ""; !bound && d.After(authDeadline) {
				d = authDeadline
			}
		}
		return ws.SetReadDeadline(d)
	}
	ws.SetPongHandler(extend)
	ws.SetPingHandler(func(data string) error {
		_ = extend(data)
		err := ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(c.m.opts.WriteTimeout))
		if err != nil && !errors.Is(err, websocket.ErrCloseSent) {
			return err
		}
		return nil
	})
	for {
		if c.br.Buffered() == 0 {
			// Idle in a shallow frame, not inside gorilla's frame reader,
			// so that the goroutine's stack can shrink (see
			// server.WaitReadable).
			server.WaitReadable(c.raw)
		}
		_ = extend("")
		typ, r, err := ws.NextReader()
		if err != nil {
			if !bound && !time.Now().Before(authDeadline) && isTimeout(err) {
				// Reads are over (gorilla's read errors are permanent):
				// the writer sends the stream error and closes.
				c.writerCloses.Store(true)
				c.s.Close(server.CloseAuthTimeout, streamErr(stream.ConnectionTimeout, "authentication took too long"))
				return endHandoff
			}
			c.transportGone()
			return endBroken
		}
		if typ != websocket.TextMessage {
			// RFC 7395 §3.2: text frames only; Prosody closes with 1003
			// (SECURITY-CASES #63).
			c.code.Store(websocket.CloseUnsupportedData)
			c.s.Close(server.CloseStreamError, nil)
			return endDrain
		}
		buf := c.m.bufs.Get().(*bytes.Buffer)
		buf.Reset()
		// No gorilla read limit: it would send close 1009 before the
		// stream error could go out. Reading one byte past the limit is
		// enough to know (SECURITY-CASES #69); the rest of the message is
		// skipped while draining.
		max := c.limits.MaxStanza
		_, err = buf.ReadFrom(io.LimitReader(r, int64(max)+1))
		if err != nil {
			c.m.bufs.Put(buf)
			c.transportGone()
			return endBroken
		}
		if buf.Len() > max {
			c.m.bufs.Put(buf)
			c.fail(streamErr(stream.PolicyViolation, "stanza too large"))
			return endDrain
		}
		if !textPayload(buf.Bytes()) {
			// RFC 6455 §8.1 and Prosody: a text message that is not UTF-8
			// XML closes with 1007 (SECURITY-CASES #67).
			if buf.Cap() <= 64<<10 {
				c.m.bufs.Put(buf)
			}
			c.code.Store(websocket.CloseInvalidFramePayloadData)
			c.fail(streamErr(stream.NotWellFormed, "a message must be one XML element"))
			return endDrain
		}
		// Over its byte rates, the client waits before this message is
		// handled (mod_limits semantics: paused, not dropped).
		_ = c.s.ThrottleIn(ctx, buf.Len())
		el, err := stanza.Parse(buf.Bytes(), c.limits)
		if buf.Cap() <= 64<<10 {
			c.m.bufs.Put(buf)
		}
		if err != nil {
			c.fail(err)
			return endDrain
		}
		if !c.dispatch(ctx, el) {
			return endDrain
		}
	}
}

// textPayload reports whether a text message is UTF-8 and starts, after
// optional whitespace, with '<'.
func textPayload(b []byte) bool {
	t := bytes.TrimLeft(b, " \t\r\n")
	return len(t) > 0 && t[0] == '<' && utf8.Valid(b)
}

// drain discards what the client still sends until its close frame, an
// error, or closeTimeout.
func (c *conn) drain() {
	c.draining = true
	_ = c.ws.SetReadDeadline(time.Now().Add(closeTimeout))
	for {
		if _, _, err := c.ws.NextReader(); err != nil {
			return
		}
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// dispatch hands one element to the session; false ends the read loop.
func (c *conn) dispatch(ctx context.Context, el *stanza.Element) bool {
	switch {
	case el.Name.Space == stanza.NSFraming && el.Name.Local == "open":
		// The core answers a missing 'to' with improper-addressing
		// (SECURITY-CASES #14) and an unknown one with host-unknown.
		err := c.s.Open(openHeader(el))
		c.opened = true
		if err != nil {
			c.s.Fail(err)
			return false
		}
		return true
	case el.Name.Space == stanza.NSFraming && el.Name.Local == "close":
		// RFC 7395 §3.6: answer <close/>, then close the WebSocket
		// (SECURITY-CASES #73).
		c.s.Close(server.ClosePeer, nil)
		return false
	case el.Name.Space == stanza.NSStream && el.Name.Local == "error":
		c.m.log.Info("client sent a stream error", "remote", c.remote, "error", el.String())
		c.s.Close(server.ClosePeer, nil)
		return false
	case el.Name.Space == stanza.NSStream || el.Name.Space == stanza.NSFraming:
		// <stream:stream> over WebSocket, or unknown framing (#72).
		c.fail(streamErr(stream.InvalidNamespace, "expected <open xmlns='"+stanza.NSFraming+"'/>"))
		return false
	}
	httpx.SetNamespace(el, "", stanza.NSClient)
	act, err := c.s.Handle(ctx, el)
	if err != nil {
		c.fail(err)
		return false
	}
	if act == server.ActionRestart {
		c.opened = false
	}
	return true
}

// openHeader reads the stream attributes of an RFC 7395 <open/>.
func openHeader(el *stanza.Element) stanza.Header {
	return stanza.Header{
		NS:      stanza.NSClient,
		To:      el.Get("to"),
		From:    el.Get("from"),
		ID:      el.Get("id"),
		Version: el.Get("version"),
		Lang:    el.Lang(),
	}
}

// fail ends the session with a stream error. A stream that was never
// answered with <open/> gets one first, as Prosody's session_close does:
// Session.Open writes the server's header before it validates anything, and
// its error is replaced by err.
func (c *conn) fail(err error) {
	if !c.opened {
		_ = c.s.Open(stanza.Header{})
		c.opened = true
	}
	c.s.Fail(err)
}

// transportGone is the only path by which a vanished connection (network
// error, close frame without <close/>, read timeout) ends a session; a
// later stream management can hibernate the session here instead.
func (c *conn) transportGone() {
	c.s.Close(server.CloseTransportGone, nil)
}

// writeLoop drains the session's queue, one WebSocket message per frame,
// pings while idle, and ends the connection when the session ends.
func (c *conn) writeLoop() {
	ping := time.NewTicker(c.m.opts.PingInterval)
	defer ping.Stop()
	var batch [][]byte
	for {
		frames, final, closed := c.s.Take(batch)
		c.out.hold()
		var err error
		for _, f := range frames {
			if err = c.write(f); err != nil {
				break
			}
		}
		if rerr := c.out.release(); err == nil {
			err = rerr
		}
		if err != nil {
			c.s.Close(server.CloseIOError, nil)
			_ = c.ws.Close()
			return
		}
		clear(frames)
		batch = frames[:0]
		if closed {
			c.finish(final)
			return
		}
		select {
		case <-c.s.Wake():
		case <-ping.C:
			err := c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(c.m.opts.WriteTimeout))
			if err != nil {
				c.transportGone()
			}
		}
	}
}

func (c *conn) write(f []byte) error {
	if len(f) == 0 {
		return nil
	}
	_ = c.ws.SetWriteDeadline(time.Now().Add(c.m.opts.WriteTimeout))
	return c.ws.WriteMessage(websocket.TextMessage, f)
}

// finish writes the session's last bytes (a stream error and <close/>,
// each its own message) and a close frame. A session that ended because
// the connection did has nothing to write, and its connection is closed at
// once; otherwise the reader closes it after the client's close frame,
// unless it is gone already.
func (c *conn) finish(final []byte) {
	if len(final) == 0 {
		_ = c.ws.Close()
		return
	}
	var err error
	if rest, ok := bytes.CutSuffix(final, []byte(closeFrame)); ok {
		if err = c.write(rest); err == nil {
			err = c.write([]byte(closeFrame))
		}
	} else {
		err = c.write(final)
	}
	if err == nil {
		code := int(c.code.Load())
		if code == 0 {
			code = websocket.CloseNormalClosure
		}
		err = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, ""), time.Now().Add(c.m.opts.WriteTimeout))
	}
	if err != nil || c.writerCloses.Load() {
		_ = c.ws.Close()
	}
}

// Transport implementation.

// Kind implements server.Transport.
func (c *conn) Kind() string { return "websocket" }

// Header frames the server's <open/> (RFC 7395 §3.3.2).
func (c *conn) Header(h server.OutHeader) []byte {
	el := stanza.New(stanza.NSFraming, "open").
		Set("from", h.From).Set("id", h.ID).Set("to", h.To).Set("version", h.Version)
	if h.Lang != "" {
		el.Attr = append(el.Attr, xmlLang(h.Lang))
	}
	return stanza.Append(nil, el)
}

// Frame implements server.Transport: a standalone jabber:client stanza.
func (c *conn) Frame(el *stanza.Element) []byte { return httpx.AppendStanza(nil, el) }

// StreamElement implements server.Transport: a standalone stream element.
func (c *conn) StreamElement(el *stanza.Element) []byte { return httpx.AppendStreamElement(nil, el) }

// Closing implements server.Transport: RFC 7395 <close/>.
func (c *conn) Closing() []byte { return []byte(closeFrame) }

// Secure implements server.Transport.
func (c *conn) Secure() bool { return c.secure }

// UnlimitSize implements server.SizeUnlimiter: messages of an account in
// unlimited_jids may be up to maxStanza bytes. It runs on the reader
// goroutine, which handles the SASL exchange.
func (c *conn) UnlimitSize(maxStanza int) { c.limits.MaxStanza = maxStanza }

// RemoteAddr implements server.Transport.
func (c *conn) RemoteAddr() string { return c.remote }

// Params implements server.Transport.
func (c *conn) Params() map[string]string { return c.params }

// Abort implements server.Aborter: a blocked write fails at once.
func (c *conn) Abort() { _ = c.ws.NetConn().SetWriteDeadline(time.Now()) }
