package bosh

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"time"

	"mellium.im/xmpp/stream"

	"github.com/parley-xmpp/parley/server"
	"github.com/parley-xmpp/parley/server/httpx"
	"github.com/parley-xmpp/parley/server/stanza"
)

// waiter is an HTTP request waiting for its response.
type waiter struct {
	rid int64
	out chan []byte // capacity 1: the response body, sent exactly once
}

func newWaiter(rid int64) *waiter { return &waiter{rid: rid, out: make(chan []byte, 1)} }

// deferred is an in-window request that arrived before the rids it follows
// (SECURITY-CASES #47); its payload is processed once they have arrived.
type deferred struct {
	rq *request
	w  *waiter
}

type cached struct {
	rid  int64
	body []byte
}

// session is one BOSH session: the transport of a core session. All of its
// state is guarded by mu; the core session is driven (Open, Handle) only
// under mu, so in rid order.
type session struct {
	m      *Module
	sid    string
	s      *server.Session
	remote string
	secure bool
	params map[string]string

	mu       sync.Mutex
	rid      int64 // the last rid processed in order
	wait     time.Duration
	hold     int
	requests int
	acks     bool
	held     []*waiter // oldest first
	pending  []deferred
	cache    []cached // the most recent responses, for retransmissions
	lastReq  time.Time
	creating bool // the next response is the session creation response
	needOpen bool // SASL succeeded: the next request restarts the stream
	to, lang string
	ver      string // the client's XEP-0124 version
	ended    bool   // the terminate body was produced; sid forgotten
	termCond string
	idle     *time.Timer // inactivity timer, running while nothing is held
	auth     *time.Timer
	batch    [][]byte
}

// Transport implementation (the session is its core session's transport).

// Kind implements server.Transport.
func (b *session) Kind() string { return "bosh" }

// Header implements server.Transport: a BOSH stream header has no bytes of
// its own (the session creation response carries its attributes).
func (b *session) Header(server.OutHeader) []byte { return nil }

// Frame implements server.Transport: stanzas declare jabber:client
// (XEP-0206 §6).
func (b *session) Frame(el *stanza.Element) []byte { return httpx.AppendStanza(nil, el) }

// StreamElement implements server.Transport; every response <body/>
// declares the stream prefix.
func (b *session) StreamElement(el *stanza.Element) []byte {
	return stanza.AppendStreamElement(nil, el)
}

// Closing implements server.Transport: the end of a BOSH stream is the
// terminate body, built when the session's queue closes.
func (b *session) Closing() []byte { return nil }

// Secure implements server.Transport.
func (b *session) Secure() bool { return b.secure }

// RemoteAddr implements server.Transport: the address of the request that
// created the session.
func (b *session) RemoteAddr() string { return b.remote }

// Params implements server.Transport: taken from the session creation
// request only (SECURITY-CASES #58).
func (b *session) Params() map[string]string { return b.params }

// create handles a session creation request (XEP-0124 §7.1, XEP-0206 §3).
// It returns the waiter for the creation response, or a sessionless
// terminate body.
func (m *Module) create(ctx context.Context, rq *request, remote string, secure bool, params map[string]string) (*waiter, *session, []byte) {
	if rq.to == "" || m.srv.Host(rq.to) == nil {
		// Prosody's mod_bosh (SECURITY-CASES #41).
		return nil, nil, terminateBody(condImproperAddressing)
	}
	if rq.wait < 0 {
		return nil, nil, terminateBody(condBadRequest)
	}
	hold := int64(maxHold)
	if rq.hold >= 0 && rq.hold < hold {
		hold = rq.hold
	}
	b := &session{
		m: m, sid: newSID(), remote: remote, secure: secure || m.secure, params: params,
		rid: rq.rid, wait: min(time.Duration(rq.wait)*time.Second, m.maxWait),
		hold: int(hold), requests: int(hold) + 1, acks: rq.ack >= 0,
		to: rq.to, lang: rq.lang, ver: rq.ver, creating: true, lastReq: time.Now(),
	}
	b.s = m.srv.NewSession(b)
	if b.s == nil {
		return nil, nil, terminateBody(condSystemShutdown)
	}
	m.mu.Lock()
	m.sessions[b.sid] = b
	m.mu.Unlock()
	b.mu.Lock()
	defer b.mu.Unlock()
	// Timer callbacks take mu, so they are ordered with the session's
	// Open and Handle calls.
	b.auth = time.AfterFunc(m.opts.AuthTimeout, b.authExpired)
	xv := rq.xmppVer
	if xv == "" {
		xv = "1.0"
	}
	w := newWaiter(rq.rid)
	if err := b.s.Open(stanza.Header{NS: stanza.NSClient, To: rq.to, Lang: rq.lang, Version: xv}); err != nil {
		b.s.Fail(err)
	} else {
		b.handlePayload(ctx, rq)
	}
	b.held = append(b.held, w)
	b.flush()
	return w, b, nil
}

// authExpired closes a session that has not bound a resource within the
// auth timeout.
func (b *session) authExpired() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.ended && b.s.JID().Domainpart() == "" {
		b.s.Close(server.CloseAuthTimeout, streamErr(stream.ConnectionTimeout, "authentication took too long"))
	}
}

// receive handles a request for an existing session. It returns the waiter
// to wait on, or a body to answer with at once.
func (b *session) receive(ctx context.Context, rq *request) (*waiter, []byte) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ended {
		return nil, terminateBody(condItemNotFound)
	}
	now := time.Now()
	if b.idle != nil {
		b.idle.Stop()
	}
	// Whatever happens to this request, the inactivity timer runs again
	// if it leaves nothing held.
	defer b.idleCheck()
	if b.acks && rq.ack >= 0 {
		b.cache = slices.DeleteFunc(b.cache, func(c cached) bool { return c.rid <= rq.ack })
	}
	diff := rq.rid - b.rid
	switch {
	case diff == 1:
		w := newWaiter(rq.rid)
		if !b.process(ctx, rq, w, now) {
			return nil, b.terminate(condPolicyViolation)
		}
		for b.runPending(ctx, now) {
		}
		b.flush()
		return w, nil
	case diff >= 2 && diff <= int64(b.requests):
		for i := range b.pending {
			if b.pending[i].rq.rid == rq.rid {
				// A retransmission of a deferred request: the new HTTP
				// request takes its place; the payload is not read twice.
				old := b.pending[i].w
				b.pending[i].w = newWaiter(rq.rid)
				old.out <- b.emptyBody()
				return b.pending[i].w, nil
			}
		}
		// Unanswered requests if this one is accepted: the held ones,
		// the rids still in flight before it, the deferred ones and this
		// one. More than 'requests' is overactivity (XEP-0124 §11,
		// SECURITY-CASES #50).
		if len(b.held)+int(diff-1)+len(b.pending)+1 > b.requests {
			return nil, b.terminate(condPolicyViolation)
		}
		w := newWaiter(rq.rid)
		b.pending = append(b.pending, deferred{rq: rq, w: w})
		return w, nil
	case diff <= 0:
		for _, c := range b.cache {
			if c.rid == rq.rid {
				// A retransmission: replay the response, ignore the payload
				// (SECURITY-CASES #45).
				return nil, c.body
			}
		}
		for i, h := range b.held {
			if h.rid == rq.rid {
				// The current request repeated (its connection probably
				// broke): hold the new one instead; the payload was
				// already processed (SECURITY-CASES #46).
				w := newWaiter(rq.rid)
				b.held[i] = w
				h.out <- b.emptyBody()
				return w, nil
			}
		}
	}
	// Beyond the window, or a past rid without a cached response
	// (SECURITY-CASES #48).
	return nil, b.terminate(condItemNotFound)
}

// process handles the next request in rid order; w joins the held
// requests. It reports false on overactivity.
func (b *session) process(ctx context.Context, rq *request, w *waiter, now time.Time) bool {
	if rq.empty() && len(b.held) >= b.hold && now.Sub(b.lastReq) < b.m.polling {
		// An empty request while all of 'requests' are unanswered, sooner
		// than 'polling' after the previous one (XEP-0124 §11,
		// SECURITY-CASES #51).
		return false
	}
	b.rid = rq.rid
	b.lastReq = now
	if b.needOpen && b.s.Reason() == "" {
		// XEP-0206 §5: the restart request opens a new stream. Prosody
		// restarts on whatever request comes next; so does parley.
		b.needOpen = false
		to := rq.to
		if to == "" {
			to = b.to
		}
		lang := rq.lang
		if lang == "" {
			lang = b.lang
		}
		if err := b.s.Open(stanza.Header{NS: stanza.NSClient, To: to, Lang: lang, Version: "1.0"}); err != nil {
			b.s.Fail(err)
		}
	}
	b.handlePayload(ctx, rq)
	b.held = append(b.held, w)
	return true
}

// handlePayload hands the request's stanzas to the core session, then
// closes it if the client terminates (after the stanzas, SECURITY-CASES
// #57).
func (b *session) handlePayload(ctx context.Context, rq *request) {
	maxStanza := b.m.srv.Limits().MaxStanza
	if maxStanza <= 0 {
		maxStanza = stanza.DefaultMaxStanza
	}
	// Only a body larger than the stanza limit can hold a stanza over it.
	checkSize := rq.size > maxStanza
	for _, n := range rq.body.Nodes {
		if n.El == nil || b.s.Reason() != "" {
			continue
		}
		el := n.El
		if checkSize && len(stanza.Append(nil, el)) > maxStanza {
			b.s.Fail(streamErr(stream.PolicyViolation, "stanza too large"))
			break
		}
		// Stanzas that omitted xmlns='jabber:client' inherited the body's
		// namespace; Prosody reads them as jabber:client.
		httpx.SetNamespace(el, NS, stanza.NSClient)
		act, err := b.s.Handle(ctx, el)
		if err != nil {
			b.s.Fail(err)
			break
		}
		if act == server.ActionRestart {
			b.needOpen = true
		}
	}
	if rq.terminate {
		b.s.Close(server.ClosePeer, nil)
	}
}

// runPending processes the deferred request that is next in rid order, if
// it has arrived.
func (b *session) runPending(ctx context.Context, now time.Time) bool {
	for i, p := range b.pending {
		if p.rq.rid == b.rid+1 {
			b.pending = slices.Delete(b.pending, i, i+1)
			// A deferred request is exempt from the polling rule: it was
			// checked against the window when it arrived.
			b.rid = p.rq.rid
			b.lastReq = now
			b.handlePayload(ctx, p.rq)
			b.held = append(b.held, p.w)
			return true
		}
	}
	return false
}

// flush answers held requests: the oldest with the pending frames, and any
// beyond 'hold' with an empty body. When the core session has ended, every
// waiting request gets the terminate body. Called with mu held.
func (b *session) flush() {
	if b.ended || len(b.held) == 0 {
		// Without a held request the frames stay queued in the session.
		return
	}
	frames, final, closed := b.s.Take(b.batch)
	b.batch = frames[:0]
	if closed {
		b.end(frames, final)
		return
	}
	if hasData(frames) {
		b.respond(b.popHeld(), b.dataBody(frames))
	}
	clear(frames)
	for len(b.held) > b.hold {
		b.respond(b.popHeld(), b.emptyBody())
	}
	b.idleCheck()
}

func hasData(frames [][]byte) bool {
	for _, f := range frames {
		if len(f) > 0 {
			return true
		}
	}
	return false
}

func (b *session) popHeld() *waiter {
	w := b.held[0]
	b.held[0] = nil
	b.held = b.held[1:]
	return w
}

// respond sends body to w and keeps it for a retransmission of w's rid.
func (b *session) respond(w *waiter, body []byte) {
	keep := b.requests + 1
	if len(b.cache) >= keep {
		b.cache = slices.Delete(b.cache, 0, len(b.cache)-keep+1)
	}
	b.cache = append(b.cache, cached{rid: w.rid, body: body})
	w.out <- body
}

// idleCheck starts the inactivity timer when no request is held.
func (b *session) idleCheck() {
	if len(b.held) > 0 || b.ended {
		return
	}
	if b.idle == nil {
		b.idle = time.AfterFunc(b.m.inactivity, b.inactive)
	} else {
		b.idle.Reset(b.m.inactivity)
	}
}

// inactive runs when the client sent nothing for bosh_max_inactivity
// (SECURITY-CASES #52).
func (b *session) inactive() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ended || len(b.held) > 0 {
		return
	}
	b.transportGone()
	// Deferred requests still waiting for a missing rid get the terminate
	// body.
	frames, final, _ := b.s.Take(b.batch)
	b.batch = frames[:0]
	b.end(frames, final)
}

// transportGone is the only path by which a vanished BOSH client ends its
// session; a later stream management can hibernate the session here.
func (b *session) transportGone() {
	b.s.Close(server.CloseTransportGone, nil)
}

// terminate ends the session with a BOSH condition and returns the body
// for the request that caused it. Called with mu held.
func (b *session) terminate(cond string) []byte {
	b.termCond = cond
	b.s.Close(server.CloseStreamError, nil)
	frames, final, _ := b.s.Take(b.batch)
	b.batch = frames[:0]
	return b.end(frames, final)
}

// end builds the terminate body from the session's last frames, answers
// every waiting request with it, forgets the session and returns the body.
// Called with mu held.
func (b *session) end(frames [][]byte, final []byte) []byte {
	attrs := []string{"sid", b.sid, "type", "terminate"}
	switch {
	case b.termCond != "":
		attrs = append(attrs, "condition", b.termCond)
	case len(final) > 0:
		// A stream error (Prosody's bosh_close_stream).
		attrs = append(attrs, "condition", condRemoteStreamError)
	}
	body := appendBody(nil, attrs, append(frames, final))
	clear(frames)
	b.ended = true
	for _, w := range b.held {
		b.respond(w, body)
	}
	for _, p := range b.pending {
		p.w.out <- body
	}
	b.held, b.pending = nil, nil
	b.stopTimers()
	b.m.forget(b)
	return body
}

func (b *session) stopTimers() {
	if b.idle != nil {
		b.idle.Stop()
	}
	if b.auth != nil {
		b.auth.Stop()
	}
}

// dataBody is a response carrying frames; the first response of a session
// also carries the session creation attributes.
func (b *session) dataBody(frames [][]byte) []byte {
	return appendBody(nil, b.responseAttrs(), frames)
}

func (b *session) emptyBody() []byte {
	return appendBody(nil, b.responseAttrs(), nil)
}

func (b *session) responseAttrs() []string {
	if !b.creating {
		return []string{"sid", b.sid}
	}
	b.creating = false
	attrs := []string{
		"sid", b.sid,
		"wait", strconv.FormatInt(int64(b.wait/time.Second), 10),
		"requests", strconv.Itoa(b.requests),
		"hold", strconv.Itoa(b.hold),
		"inactivity", strconv.FormatInt(int64(b.m.inactivity/time.Second), 10),
		"polling", strconv.FormatInt(int64(b.m.polling/time.Second), 10),
		"ver", lowerVersion(b.ver, version),
		"from", b.to,
		"authid", b.s.ID(),
		"secure", "true",
		"xmlns:xmpp", NSXBOSH,
		"xmpp:version", "1.0",
		"xmpp:restartlogic", "true",
	}
	if b.acks {
		attrs = append(attrs, "ack", strconv.FormatInt(b.rid, 10))
	}
	return attrs
}

// await waits for w's response: data, the end of the session, 'wait'
// passing (an empty response), or the client going away (nil).
func (b *session) await(ctx context.Context, w *waiter) []byte {
	b.mu.Lock()
	wait := b.wait
	b.mu.Unlock()
	timer := time.NewTimer(wait)
	defer timer.Stop()
	wake := b.s.Wake()
	for {
		select {
		case body := <-w.out:
			return body
		case <-wake:
			b.mu.Lock()
			b.flush()
			b.mu.Unlock()
		case <-timer.C:
			if b.expire(w) {
				timer.Reset(wait)
			}
		case <-ctx.Done():
			b.abandon(w)
			return nil
		}
	}
}

// expire answers w with an empty body when 'wait' passed while it was
// held. It reports true if w is a deferred request, not yet held.
func (b *session) expire(w *waiter) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.flush()
	if i := slices.Index(b.held, w); i >= 0 {
		b.held = slices.Delete(b.held, i, i+1)
		b.respond(w, b.emptyBody())
		b.idleCheck()
		return false
	}
	return slices.ContainsFunc(b.pending, func(p deferred) bool { return p.w == w })
}

// abandon forgets a request whose client went away. Its response, if any
// comes, stays in the cache for a retransmission.
func (b *session) abandon(w *waiter) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if i := slices.Index(b.held, w); i >= 0 {
		b.held = slices.Delete(b.held, i, i+1)
		b.idleCheck()
	}
}
