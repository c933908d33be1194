package server

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"time"

	"github.com/parley-xmpp/parley/server/stanza"
)

// tcpTransport frames a client stream over TCP (RFC 6120).
type tcpTransport struct {
	conn   net.Conn
	secure bool
	canTLS bool
	rd     *stanza.Reader // owned by the reader goroutine
}

// newReader starts reading from the transport's connection, through the
// session's rate buckets.
func (t *tcpTransport) newReader(ctx context.Context, s *Session, lim stanza.Limits) {
	t.rd = stanza.NewReader(&throttledReader{ctx: ctx, r: t.conn, s: s}, lim)
}

// UnlimitSize implements SizeUnlimiter. It runs on the reader goroutine
// (during SASL).
func (t *tcpTransport) UnlimitSize(maxStanza int) { t.rd.SetMaxStanza(maxStanza) }

func (t *tcpTransport) Kind() string { return "c2s" }

func (t *tcpTransport) Header(h OutHeader) []byte {
	return stanza.AppendStreamHeader(nil, stanza.NSClient,
		attr("from", h.From), attr("id", h.ID), attr("to", h.To),
		attr("version", h.Version), langAttr(h.Lang))
}

func (t *tcpTransport) Frame(el *stanza.Element) []byte {
	return stanza.AppendIn(nil, el, stanza.NSClient)
}

func (t *tcpTransport) StreamElement(el *stanza.Element) []byte {
	return stanza.AppendStreamElement(nil, el)
}

func (t *tcpTransport) Closing() []byte           { return []byte(stanza.StreamClose) }
func (t *tcpTransport) Secure() bool              { return t.secure }
func (t *tcpTransport) RemoteAddr() string        { return t.conn.RemoteAddr().String() }
func (t *tcpTransport) Params() map[string]string { return nil }

// Abort fails a blocked write at once (see Aborter).
func (t *tcpTransport) Abort() { _ = t.conn.SetWriteDeadline(time.Now()) }

func (t *tcpTransport) CanStartTLS() bool { return t.canTLS && !t.secure }

// serveTCP runs one client connection: this goroutine reads and owns the
// session's negotiation state, a second one writes.
//
// The work is split into small functions so that an idle session's reader,
// parked in WaitReadable under serveTCP and readLoop, uses little of its
// stack: the runtime halves an idle goroutine's stack only while it uses
// less than a quarter of it (counting 800 bytes of reserve), so every
// frame on that path counts.
func (srv *Server) serveTCP(conn net.Conn, directTLS bool) {
	defer conn.Close()
	s, t, writerDone := srv.openTCP(conn, directTLS)
	if s == nil {
		return
	}
	ctx, cancel := context.WithCancel(srv.ctx)
	defer cancel()
	t.newReader(ctx, s, srv.limits)
	srv.endTCP(s, srv.readLoop(ctx, s, t, &writerDone))
	<-writerDone
}

// openTCP sets a connection up: TLS for direct TLS, the session, its
// writer, the authentication deadline and the rate limit. A nil session
// means the connection is to be dropped.
func (srv *Server) openTCP(conn net.Conn, directTLS bool) (*Session, *tcpTransport, <-chan struct{}) {
	t := &tcpTransport{conn: conn, canTLS: srv.tlsConfig != nil}
	if directTLS {
		tc, err := srv.handshakeTLS(conn)
		if err != nil {
			srv.log.Debug("direct TLS handshake failed", "remote", conn.RemoteAddr().String(), "err", err)
			return nil, nil, nil
		}
		t.conn, t.secure = tc, true
	}
	s := srv.NewSession(t)
	if s == nil {
		return nil, nil, nil
	}
	writerDone := srv.startWriter(s, t)
	_ = t.conn.SetReadDeadline(time.Now().Add(srv.opts.authTimeout))
	return s, t, writerDone
}

// endTCP closes the session as the read loop's error says.
func (srv *Server) endTCP(s *Session, err error) {
	switch {
	case errors.Is(err, stanza.ErrStreamEnd):
		s.Close(ClosePeer, nil)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		s.Close(CloseTransportGone, nil)
	case isTimeout(err):
		if s.state == stateAwaitHeader {
			// RFC 6120 §4.9.1.1: the error goes out in a stream, so a
			// client that never sent its header still gets ours first.
			s.sendHeader(stanza.Header{})
		}
		if s.state != stateBound {
			s.Close(CloseAuthTimeout, streamErr(connectionTimeout, "authentication took too long"))
		} else {
			s.Close(CloseIdle, streamErr(connectionTimeout, ""))
		}
	default:
		s.Fail(err)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// readLoop reads headers and elements until the stream ends. Between
// bursts, once everything received is handled, it waits for more in a
// shallow frame (WaitReadable) rather than inside the XML decoder.
func (srv *Server) readLoop(ctx context.Context, s *Session, t *tcpTransport, writerDone *<-chan struct{}) error {
	for {
		if s.state != stateAwaitHeader && t.rd.Buffered() == 0 {
			WaitReadable(t.conn)
		}
		if err := srv.readOne(ctx, s, t, writerDone); err != nil {
			return err
		}
	}
}

// readOne reads and handles one stream header or top-level element; it
// performs STARTTLS and stream restarts in place.
func (srv *Server) readOne(ctx context.Context, s *Session, t *tcpTransport, writerDone *<-chan struct{}) error {
	if s.state == stateAwaitHeader {
		h, err := t.rd.ReadHeader()
		if err != nil {
			if isStreamError(err) {
				s.sendHeader(stanza.Header{To: ""})
			}
			return err
		}
		return s.Open(h)
	}
	el, err := t.rd.Next()
	if err != nil {
		return err
	}
	act, err := s.Handle(ctx, el)
	if err != nil {
		return err
	}
	switch act {
	case ActionRestart:
		t.rd.Restart()
	case ActionStartTLS:
		// Flush <proceed/>, stop the writer, then upgrade. Bytes that
		// arrived after <starttls/> would be plaintext injected into
		// the encrypted stream: refuse them.
		s.queue().close(nil, false)
		<-*writerDone
		if t.rd.Buffered() > 0 {
			return errCloseQuietly
		}
		tc, err := srv.handshakeTLS(t.conn)
		if err != nil {
			s.logger().Info("STARTTLS handshake failed", "err", err)
			return io.EOF
		}
		t.conn, t.secure = tc, true
		s.qp.Store(newOutQueue(srv.opts.queueFrames, srv.opts.queueBytes))
		*writerDone = srv.startWriter(s, t)
		t.newReader(ctx, s, srv.limits)
		s.state = stateAwaitHeader
	}
	if s.state == stateBound {
		_ = t.conn.SetReadDeadline(time.Time{})
	}
	return nil
}

func (srv *Server) handshakeTLS(conn net.Conn) (*tls.Conn, error) {
	tc := tls.Server(conn, srv.tlsConfig)
	ctx, cancel := context.WithTimeout(srv.ctx, 10*time.Second)
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		return nil, err
	}
	return tc, nil
}

// startWriter starts the session's writer goroutine.
func (srv *Server) startWriter(s *Session, t *tcpTransport) <-chan struct{} {
	return srv.startQueueWriter(t.conn, s.queue(), func() { s.Close(CloseIOError, nil) }, func() bool { return s.Reason() != "" })
}

// startQueueWriter drains q onto conn: it writes every pending frame,
// flushes once, and waits for more. After q is closed it writes the final
// bytes and, if closeConn says so (not for a STARTTLS pause), closes conn
// so the reader wakes up. fail runs on a write error.
func (srv *Server) startQueueWriter(conn net.Conn, q *outQueue, fail func(), closeConn func() bool) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		var batch [][]byte
		for {
			frames, final, closed := q.take(batch)
			batch = frames
			_ = conn.SetWriteDeadline(time.Now().Add(srv.opts.writeTimeout))
			if q.discarded() {
				fail()
				_ = conn.Close()
				return
			}
			err := srv.writeBatch(conn, frames, final)
			if err != nil {
				fail()
				_ = conn.Close()
				return
			}
			if closed {
				if closeConn() {
					_ = conn.Close()
				}
				return
			}
			<-q.signal
		}
	}()
	return done
}

// writeBatch writes frames then final through a pooled buffer and flushes
// once. Buffers are taken only while a batch is written, so an idle
// connection keeps none (idle buffers dominate per-session memory
// otherwise, as tailscale's derp found).
func (srv *Server) writeBatch(conn net.Conn, frames [][]byte, final []byte) error {
	if len(frames) == 0 && len(final) == 0 {
		return nil
	}
	w, _ := srv.writers.Get().(*bufio.Writer)
	if w == nil {
		w = bufio.NewWriterSize(nil, 8192)
	}
	w.Reset(conn)
	defer func() {
		w.Reset(nil)
		srv.writers.Put(w)
	}()
	for _, f := range frames {
		if _, err := w.Write(f); err != nil {
			return err
		}
	}
	if _, err := w.Write(final); err != nil {
		return err
	}
	return w.Flush()
}
