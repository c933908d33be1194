package xclient

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/parley-xmpp/parley/cmd/parley-load/internal/xscan"
)

// wsConn is RFC 7395: one element per WebSocket text message.
type wsConn struct {
	url    string
	domain string
	dialer *websocket.Dialer
	ws     *websocket.Conn
	buf    bytes.Buffer
	mu     sync.Mutex // serialises writes
}

func (c *wsConn) openFrame() []byte {
	return []byte("<open xmlns='" + nsFraming + "' to='" + c.domain + "' version='1.0' xml:lang='en'/>")
}

func (c *wsConn) open(ctx context.Context) error {
	ws, resp, err := c.dialer.DialContext(ctx, c.url, http.Header{})
	if err != nil {
		if resp != nil {
			return fmt.Errorf("xclient: websocket upgrade at %s: %s: %w", c.url, resp.Status, err)
		}
		return fmt.Errorf("xclient: websocket dial %s: %w", c.url, err)
	}
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if ws.Subprotocol() != "xmpp" {
		ws.Close()
		return errors.New("xclient: server did not accept the xmpp subprotocol")
	}
	c.ws = ws
	return c.send(c.openFrame())
}

func (c *wsConn) restart(context.Context) error { return c.send(c.openFrame()) }

func (c *wsConn) next() ([]byte, error) {
	for {
		typ, r, err := c.ws.NextReader()
		if err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return nil, ErrClosed
			}
			return nil, fmt.Errorf("xclient: websocket read: %w", err)
		}
		if typ != websocket.TextMessage {
			continue
		}
		c.buf.Reset()
		if _, err := c.buf.ReadFrom(r); err != nil {
			return nil, fmt.Errorf("xclient: websocket read: %w", err)
		}
		el := bytes.TrimSpace(c.buf.Bytes())
		switch string(xscan.Name(el)) {
		case "open", "":
			continue
		case "close":
			return nil, ErrClosed
		}
		return el, nil
	}
}

func (c *wsConn) send(el []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.ws.WriteMessage(websocket.TextMessage, el); err != nil {
		return fmt.Errorf("xclient: websocket write: %w", err)
	}
	return nil
}

func (c *wsConn) deadline(t time.Time) {
	if c.ws != nil {
		_ = c.ws.SetReadDeadline(t)
	}
}

func (c *wsConn) close() error {
	if c.ws == nil {
		return nil
	}
	c.mu.Lock()
	_ = c.ws.SetWriteDeadline(time.Now().Add(time.Second))
	_ = c.ws.WriteMessage(websocket.TextMessage, []byte("<close xmlns='"+nsFraming+"'/>"))
	_ = c.ws.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
	c.mu.Unlock()
	return c.ws.Close()
}
