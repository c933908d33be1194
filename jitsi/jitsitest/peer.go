package jitsitest

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/parley-xmpp/parley/server/stanza"
)

// MUC namespaces and status codes.
const (
	NSMUC      = "http://jabber.org/protocol/muc"
	NSMUCUser  = NSMUC + "#user"
	NSMUCOwner = NSMUC + "#owner"
	NSMUCAdmin = NSMUC + "#admin"
	NSData     = "jabber:x:data"
	// StatusSelf marks a room's presence about the receiver itself.
	StatusSelf = "110"
)

// IQHandler answers an IQ get or set addressed to a peer. It returns the
// reply (nil: service-unavailable). It runs on its own goroutine and may
// make requests of its own.
type IQHandler func(ctx context.Context, iq *stanza.Element) *stanza.Element

// Peer is a logged-in client that drains its connection: it keeps the
// latest presence of every sender (so room occupants), the messages it got,
// and answers IQ requests with its handler. Wait blocks until its state
// satisfies a condition.
type Peer struct {
	*Conn

	handler    IQHandler
	onPresence func(*stanza.Element)

	mu       sync.Mutex
	presence map[string]*stanza.Element // by full from; available ones
	errors   map[string]*stanza.Element // presence errors by from
	messages []*stanza.Element
	changed  chan struct{}
	wg       sync.WaitGroup
	ctx      context.Context
	cancel   context.CancelFunc
	loopDone chan struct{}
}

// newPeer starts draining c. onPresence (optional) sees every presence
// after it is recorded, on the reading goroutine: it must not block.
func newPeer(c *Conn, handler IQHandler, onPresence func(*stanza.Element)) *Peer {
	ctx, cancel := context.WithCancel(context.Background())
	p := &Peer{Conn: c, handler: handler, onPresence: onPresence, presence: map[string]*stanza.Element{},
		errors: map[string]*stanza.Element{}, changed: make(chan struct{}), ctx: ctx, cancel: cancel, loopDone: make(chan struct{})}
	go p.loop()
	return p
}

// NewPeer wraps a logged-in connection; handler answers IQ requests (nil:
// disco#info and ping only).
func NewPeer(c *Conn, handler IQHandler) *Peer { return newPeer(c, handler, nil) }

func (p *Peer) loop() {
	defer close(p.loopDone)
	for el := range p.Conn.In {
		switch el.Name.Local {
		case "presence":
			p.record(el)
			if p.onPresence != nil {
				p.onPresence(el)
			}
		case "message":
			p.mu.Lock()
			p.messages = append(p.messages, el)
			p.notifyLocked()
			p.mu.Unlock()
		case "iq":
			if t := el.Get("type"); t == "get" || t == "set" {
				p.wg.Add(1)
				go func() {
					defer p.wg.Done()
					p.answer(el)
				}()
			}
		}
	}
	p.mu.Lock()
	p.notifyLocked()
	p.mu.Unlock()
}

func (p *Peer) record(el *stanza.Element) {
	from := el.Get("from")
	p.mu.Lock()
	defer p.mu.Unlock()
	switch el.Get("type") {
	case "":
		p.presence[from] = el
		delete(p.errors, from)
	case "unavailable":
		delete(p.presence, from)
	case "error":
		p.errors[from] = el
	}
	p.notifyLocked()
}

func (p *Peer) notifyLocked() {
	close(p.changed)
	p.changed = make(chan struct{})
}

func (p *Peer) answer(iq *stanza.Element) {
	var reply *stanza.Element
	if p.handler != nil {
		reply = p.handler(p.ctx, iq)
	}
	if reply == nil {
		switch q := iq.FirstElement(); {
		case q != nil && q.Name.Space == NSPing:
			reply = Result(iq)
		case q != nil && q.Name.Space == NSDiscInfo && iq.Get("type") == "get":
			reply = Result(iq).Add(stanza.New(NSDiscInfo, "query").
				Add(stanza.New(NSDiscInfo, "feature").Set("var", NSDiscInfo)))
		default:
			reply = ErrorReply(iq, "cancel", "service-unavailable")
		}
	}
	_ = p.Send(p.ctx, reply)
}

// Result is the empty result for an IQ request.
func Result(iq *stanza.Element) *stanza.Element {
	r := stanza.New(stanza.NSClient, "iq").Set("type", "result").Set("id", iq.Get("id"))
	if f := iq.Get("from"); f != "" {
		r.Set("to", f)
	}
	return r
}

// ErrorReply is an error answer to an IQ request.
func ErrorReply(iq *stanza.Element, typ, cond string) *stanza.Element {
	r := Result(iq).Set("type", "error")
	return r.Add(stanza.New(stanza.NSClient, "error").Set("type", typ).Add(stanza.New(stanza.NSStanzas, cond)))
}

// Wait blocks until cond (called with the peer's state locked; it must
// only read through the Locked accessors' arguments) holds, ctx ends or
// the connection closes.
func (p *Peer) Wait(ctx context.Context, what string, cond func(v View) bool) error {
	for {
		p.mu.Lock()
		ok := cond(View{p: p})
		ch := p.changed
		p.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ch:
		case <-p.loopDone:
			p.mu.Lock()
			ok := cond(View{p: p})
			p.mu.Unlock()
			if ok {
				return nil
			}
			return fmt.Errorf("jitsitest: %s: connection ended waiting for %s: %v", p.JID(), what, p.Err())
		case <-ctx.Done():
			return fmt.Errorf("jitsitest: %s: waiting for %s: %w", p.JID(), what, ctx.Err())
		}
	}
}

// View reads a peer's state inside Wait.
type View struct{ p *Peer }

// Presence is the latest available presence from a full JID (nil if none).
func (v View) Presence(from string) *stanza.Element { return v.p.presence[from] }

// PresenceError is the latest error presence from a JID (nil if none).
func (v View) PresenceError(from string) *stanza.Element { return v.p.errors[from] }

// Occupants are the available presences from room, by nick.
func (v View) Occupants(room string) map[string]*stanza.Element {
	out := map[string]*stanza.Element{}
	for from, el := range v.p.presence {
		if r, nick, ok := strings.Cut(from, "/"); ok && r == room {
			out[nick] = el
		}
	}
	return out
}

// Messages are the messages received so far.
func (v View) Messages() []*stanza.Element { return v.p.messages }

// Snapshot returns the latest presence from a full JID outside Wait.
func (p *Peer) Snapshot(from string) *stanza.Element {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.presence[from]
}

// Occupants returns the available presences from room, by nick.
func (p *Peer) Occupants(room string) map[string]*stanza.Element {
	p.mu.Lock()
	defer p.mu.Unlock()
	return View{p: p}.Occupants(room)
}

// Close ends the connection and waits for the peer's goroutines.
func (p *Peer) Close() error {
	p.cancel()
	err := p.Conn.Close()
	<-p.loopDone
	p.wg.Wait()
	return err
}

// MUCPresence builds a join presence for room/nick with the muc element
// and extra extensions.
func MUCPresence(room, nick string, ext ...*stanza.Element) *stanza.Element {
	pr := stanza.New(stanza.NSClient, "presence").Set("to", room+"/"+nick)
	pr.Add(stanza.New(NSMUC, "x"))
	return pr.Add(ext...)
}

// Join enters room as nick with the given extensions and returns the
// room's self-presence (status 110). A presence error is returned as a
// *PresenceError.
func (p *Peer) Join(ctx context.Context, room, nick string, ext ...*stanza.Element) (*stanza.Element, error) {
	occ := room + "/" + nick
	p.mu.Lock()
	delete(p.errors, occ)
	p.mu.Unlock()
	if err := p.Send(ctx, MUCPresence(room, nick, ext...)); err != nil {
		return nil, err
	}
	var self, perr *stanza.Element
	err := p.Wait(ctx, "self-presence from "+occ, func(v View) bool {
		if e := v.PresenceError(occ); e != nil {
			perr = e
			return true
		}
		if pr := v.Presence(occ); pr != nil && HasStatus(pr, StatusSelf) {
			self = pr
			return true
		}
		return false
	})
	if err != nil {
		return nil, err
	}
	if perr != nil {
		return nil, NewPresenceError(perr)
	}
	return self, nil
}

// PresenceError is a presence of type error (a refused join).
type PresenceError struct {
	// Type and Condition are the stanza error type and condition; Text its
	// text.
	Type, Condition, Text string
	// Stanza is the error presence.
	Stanza *stanza.Element
}

// NewPresenceError reads the error of an error presence.
func NewPresenceError(el *stanza.Element) *PresenceError {
	pe := &PresenceError{Stanza: el}
	if e := el.Child(stanza.NSClient, "error"); e != nil {
		pe.Type = e.Get("type")
		pe.Text = e.ChildText(stanza.NSStanzas, "text")
		for _, c := range e.Elements() {
			if c.Name.Space == stanza.NSStanzas && c.Name.Local != "text" {
				pe.Condition = c.Name.Local
			}
		}
	}
	return pe
}

// Error describes the refusal.
func (e *PresenceError) Error() string {
	return fmt.Sprintf("jitsitest: presence error %s/%s %q from %s", e.Type, e.Condition, e.Text, e.Stanza.Get("from"))
}

// HasStatus reports whether a MUC presence carries status code.
func HasStatus(pr *stanza.Element, code string) bool {
	x := pr.Child(NSMUCUser, "x")
	if x == nil {
		return false
	}
	for _, s := range x.Elements() {
		if s.Name.Local == "status" && s.Get("code") == code {
			return true
		}
	}
	return false
}

// Item is the muc#user item of an occupant presence.
type Item struct {
	Affiliation, Role, JID string
}

// ItemOf reads the muc#user item of a presence (zero if none).
func ItemOf(pr *stanza.Element) Item {
	if pr == nil {
		return Item{}
	}
	it := pr.Child(NSMUCUser, "x").Child(NSMUCUser, "item")
	if it == nil {
		return Item{}
	}
	return Item{Affiliation: it.Get("affiliation"), Role: it.Get("role"), JID: it.Get("jid")}
}

// Configure fetches room's owner configuration form and submits it with
// FORM_TYPE and the given values (as Jicofo does after every join). It
// returns the form the server offered.
func (p *Peer) Configure(ctx context.Context, room string, values map[string]string) (*stanza.Element, error) {
	get := stanza.New(stanza.NSClient, "iq").Set("type", "get").Set("to", room).Add(stanza.New(NSMUCOwner, "query"))
	res, err := p.Request(ctx, get)
	if err != nil {
		return nil, err
	}
	form := res.Child(NSMUCOwner, "query").Child(NSData, "x")
	if res.Get("type") != "result" || form == nil {
		return nil, fmt.Errorf("jitsitest: owner form of %s: %s", room, res)
	}
	submit := stanza.New(NSData, "x").Set("type", "submit")
	submit.Add(field("FORM_TYPE", "http://jabber.org/protocol/muc#roomconfig"))
	for k, v := range values {
		submit.Add(field(k, v))
	}
	set := stanza.New(stanza.NSClient, "iq").Set("type", "set").Set("to", room).Add(stanza.New(NSMUCOwner, "query").Add(submit))
	res, err = p.Request(ctx, set)
	if err != nil {
		return nil, err
	}
	if res.Get("type") != "result" {
		return form, fmt.Errorf("jitsitest: submitting the config of %s: %s", room, res)
	}
	return form, nil
}

func field(name, value string) *stanza.Element {
	return stanza.New(NSData, "field").Set("var", name).Add(stanza.New(NSData, "value").AddText(value))
}

// FormValue is the first value of a data form field ("" if absent).
func FormValue(form *stanza.Element, name string) string {
	for _, f := range form.Elements() {
		if f.Name.Local == "field" && f.Get("var") == name {
			return f.ChildText(NSData, "value")
		}
	}
	return ""
}

// DiscoInfo asks to for disco#info and returns the query element.
func (p *Peer) DiscoInfo(ctx context.Context, to string) (*stanza.Element, error) {
	res, err := p.Request(ctx, stanza.New(stanza.NSClient, "iq").Set("type", "get").Set("to", to).Add(stanza.New(NSDiscInfo, "query")))
	if err != nil {
		return nil, err
	}
	q := res.Child(NSDiscInfo, "query")
	if res.Get("type") != "result" || q == nil {
		return nil, fmt.Errorf("jitsitest: disco#info %s: %s", to, res)
	}
	return q, nil
}
