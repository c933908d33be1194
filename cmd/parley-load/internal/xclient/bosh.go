package xclient

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/parley-xmpp/parley/cmd/parley-load/internal/xscan"
)

const (
	nsBOSH  = "http://jabber.org/protocol/httpbind"
	nsXBOSH = "urn:xmpp:xbosh"
	// boshWait is the wait attribute requested at session creation.
	boshWait = 60
)

// boshConn is XEP-0124/XEP-0206 over raw HTTP bodies. During stream
// negotiation it is synchronous: next posts the queued elements (or an
// empty poll) and waits for the answer. After goAsync it keeps one
// request held by the server at all times and sends queued elements in a
// second request, as browsers do with hold=1.
type boshConn struct {
	url    string
	domain string
	client *http.Client

	mu       sync.Mutex
	cond     *sync.Cond
	sid      string
	rid      int64
	pending  [][]byte
	restartQ bool // the next request restarts the stream
	inflight int
	async    bool
	queue    [][]byte // received elements not yet taken
	// Responses are handled in rid order (XEP-0124 §9.1): an answer that
	// overtakes an earlier request's waits in early until its turn.
	nextRID int64
	early   map[int64][]byte
	err     error
	dead    time.Time
	ctx     context.Context
	cancel  context.CancelFunc
}

func newBOSH(url, domain string, client *http.Client) *boshConn {
	ctx, cancel := context.WithCancel(context.Background())
	c := &boshConn{url: url, domain: domain, client: client, rid: 1 + rand.Int64N(1<<40), ctx: ctx, cancel: cancel,
		early: map[int64][]byte{}}
	c.cond = sync.NewCond(&c.mu)
	return c
}

func (c *boshConn) open(ctx context.Context) error {
	c.mu.Lock()
	rid := c.rid
	c.rid++
	c.mu.Unlock()
	body := []byte("<body content='text/xml; charset=utf-8' hold='1' rid='" + strconv.FormatInt(rid, 10) +
		"' to='" + c.domain + "' ver='1.6' wait='" + strconv.Itoa(boshWait) + "' xml:lang='en' xmpp:version='1.0' xmlns='" +
		nsBOSH + "' xmlns:xmpp='" + nsXBOSH + "'/>")
	resp, err := c.post(ctx, body)
	if err != nil {
		return err
	}
	sid, ok := xscan.Attr(resp, "sid")
	if !ok {
		return fmt.Errorf("xclient: BOSH session creation answered without sid: %.200s", resp)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sid = string(sid)
	c.nextRID = rid + 1
	return c.receive(resp)
}

// inOrder queues the response to request rid once every earlier
// response has been queued; c.mu is held.
func (c *boshConn) inOrder(rid int64, resp []byte) error {
	c.early[rid] = resp
	for {
		r, ok := c.early[c.nextRID]
		if !ok {
			return nil
		}
		delete(c.early, c.nextRID)
		c.nextRID++
		if err := c.receive(r); err != nil {
			return err
		}
	}
}

func (c *boshConn) restart(context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.restartQ = true
	return nil
}

// post sends one body and returns the response body.
func (c *boshConn) post(ctx context.Context, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("xclient: BOSH request: %w", err)
	}
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("xclient: BOSH post: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("xclient: BOSH response: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("xclient: BOSH %s: %.200s", resp.Status, data)
	}
	return data, nil
}

// receive queues the children of a response body; c.mu is held.
func (c *boshConn) receive(resp []byte) error {
	resp = bytes.TrimSpace(resp)
	if len(resp) > 0 && resp[0] == '<' && len(resp) > 1 && resp[1] == '?' {
		if n, err := xscan.SkipSpecial(resp); err == nil && n > 0 {
			resp = bytes.TrimSpace(resp[n:])
		}
	}
	if t, _ := xscan.Attr(resp, "type"); string(t) == "terminate" {
		cond, _ := xscan.Attr(resp, "condition")
		err := ErrClosed
		if len(cond) > 0 {
			err = fmt.Errorf("%w (BOSH condition %s)", ErrClosed, cond)
		}
		// Deliver what came with the terminate first.
		_ = xscan.Children(resp, func(ch []byte) error {
			c.queue = append(c.queue, bytes.Clone(ch))
			return nil
		})
		c.fail(err)
		return nil
	}
	return xscan.Children(resp, func(ch []byte) error {
		c.queue = append(c.queue, bytes.Clone(ch))
		return nil
	})
}

func (c *boshConn) fail(err error) {
	if c.err == nil {
		c.err = err
	}
	c.cond.Broadcast()
}

// build makes the next request body from the queued elements; c.mu is
// held.
func (c *boshConn) build() (int64, []byte) {
	rid := c.rid
	c.rid++
	b := make([]byte, 0, 128)
	b = append(b, "<body rid='"...)
	b = strconv.AppendInt(b, rid, 10)
	b = append(b, "' sid='"...)
	b = append(b, c.sid...)
	b = append(b, "' xmlns='"+nsBOSH+"'"...)
	if c.restartQ {
		c.restartQ = false
		b = append(b, " to='"...)
		b = append(b, c.domain...)
		b = append(b, "' xml:lang='en' xmpp:restart='true' xmlns:xmpp='"+nsXBOSH+"'"...)
	}
	if len(c.pending) == 0 {
		return rid, append(b, "/>"...)
	}
	b = append(b, '>')
	for _, el := range c.pending {
		b = append(b, el...)
	}
	c.pending = c.pending[:0]
	return rid, append(b, "</body>"...)
}

func (c *boshConn) next() ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		if len(c.queue) > 0 {
			el := c.queue[0]
			c.queue[0] = nil
			c.queue = c.queue[1:]
			return el, nil
		}
		if c.err != nil {
			return nil, c.err
		}
		if c.async || c.inflight > 0 {
			c.cond.Wait()
			continue
		}
		// Synchronous negotiation: post what is queued and wait.
		rid, body := c.build()
		c.inflight++
		ctx, cancel := c.ctx, context.CancelFunc(func() {})
		if !c.dead.IsZero() {
			ctx, cancel = context.WithDeadline(c.ctx, c.dead)
		}
		c.mu.Unlock()
		resp, err := c.post(ctx, body)
		cancel()
		c.mu.Lock()
		c.inflight--
		if err != nil {
			c.fail(err)
			continue
		}
		if err := c.inOrder(rid, resp); err != nil {
			c.fail(fmt.Errorf("xclient: BOSH body: %w", err))
		}
	}
}

func (c *boshConn) send(el []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return c.err
	}
	c.pending = append(c.pending, el)
	if c.async {
		c.kick()
	}
	return nil
}

// goAsync switches to the held-request mode used after negotiation.
func (c *boshConn) goAsync() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.async = true
	c.kick()
}

// kick issues requests while fewer than two are in flight and there is
// something to send or no request is held; c.mu is held.
func (c *boshConn) kick() {
	for c.err == nil && c.inflight < 2 && (len(c.pending) > 0 || c.inflight == 0) {
		rid, body := c.build()
		c.inflight++
		go c.roundTrip(rid, body)
	}
}

func (c *boshConn) roundTrip(rid int64, body []byte) {
	resp, err := c.post(c.ctx, body)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.inflight--
	switch {
	case err != nil:
		c.fail(err)
	default:
		if err := c.inOrder(rid, resp); err != nil {
			c.fail(fmt.Errorf("xclient: BOSH body: %w", err))
		}
		c.kick()
	}
	c.cond.Broadcast()
}

func (c *boshConn) deadline(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dead = t
}

func (c *boshConn) close() error {
	c.mu.Lock()
	if c.sid == "" || errors.Is(c.err, ErrClosed) {
		c.mu.Unlock()
		c.cancel()
		return nil
	}
	rid := c.rid
	c.rid++
	sid := c.sid
	c.fail(ErrClosed)
	c.mu.Unlock()
	body := []byte("<body rid='" + strconv.FormatInt(rid, 10) + "' sid='" + sid + "' type='terminate' xmlns='" + nsBOSH +
		"'><presence type='unavailable' xmlns='" + nsClient + "'/></body>")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err := c.post(ctx, body)
	c.cancel()
	return err
}
