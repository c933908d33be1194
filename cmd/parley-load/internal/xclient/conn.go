package xclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/parley-xmpp/parley/cmd/parley-load/internal/xscan"
)

// ErrClosed is returned once the server closed the stream.
var ErrClosed = errors.New("xclient: stream closed by the server")

// conn is one transport's view of an XMPP stream: it opens and restarts
// streams and moves whole top-level elements, swallowing stream headers
// and <open/> frames.
type conn interface {
	// open starts the first stream (connecting if needed).
	open(ctx context.Context) error
	// restart starts a new stream after SASL success.
	restart(ctx context.Context) error
	// next returns the next top-level element; the slice is only valid
	// until the next call. It returns ErrClosed at the end of the stream.
	next() ([]byte, error)
	// send writes one top-level element.
	send(el []byte) error
	// deadline bounds reads during negotiation (zero clears it).
	deadline(t time.Time)
	// close ends the stream politely and releases the connection.
	close() error
}

const (
	nsStream  = "http://etherx.jabber.org/streams"
	nsClient  = "jabber:client"
	nsSASL    = "urn:ietf:params:xml:ns:xmpp-sasl"
	nsBind    = "urn:ietf:params:xml:ns:xmpp-bind"
	nsSM      = "urn:xmpp:sm:3"
	nsFraming = "urn:ietf:params:xml:ns:xmpp-framing"
)

// tcpConn is RFC 6120 over plain TCP.
type tcpConn struct {
	addr   string
	domain string
	dialer *net.Dialer
	nc     net.Conn
	fr     *xscan.Framer
	bufLen int
	mu     sync.Mutex // serialises writes
}

func (c *tcpConn) header() []byte {
	return []byte("<?xml version='1.0'?><stream:stream to='" + c.domain +
		"' version='1.0' xml:lang='en' xmlns='" + nsClient + "' xmlns:stream='" + nsStream + "'>")
}

func (c *tcpConn) open(ctx context.Context) error {
	nc, err := c.dialer.DialContext(ctx, "tcp", c.addr)
	if err != nil {
		return fmt.Errorf("xclient: dialing %s: %w", c.addr, err)
	}
	c.nc = nc
	c.fr = xscan.NewFramer(nc, c.bufLen, 1<<20)
	return c.send(c.header())
}

func (c *tcpConn) restart(context.Context) error { return c.send(c.header()) }

func (c *tcpConn) next() ([]byte, error) {
	for {
		k, el, err := c.fr.Next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil, ErrClosed
			}
			return nil, fmt.Errorf("xclient: reading: %w", err)
		}
		switch k {
		case xscan.KindHeader:
			continue
		case xscan.KindClose:
			return nil, ErrClosed
		}
		return el, nil
	}
}

func (c *tcpConn) send(el []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := c.nc.Write(el); err != nil {
		return fmt.Errorf("xclient: writing: %w", err)
	}
	return nil
}

func (c *tcpConn) deadline(t time.Time) {
	if c.nc != nil {
		_ = c.nc.SetReadDeadline(t)
	}
}

func (c *tcpConn) close() error {
	if c.nc == nil {
		return nil
	}
	_ = c.nc.SetWriteDeadline(time.Now().Add(time.Second))
	_ = c.send([]byte("</stream:stream>"))
	return c.nc.Close()
}
