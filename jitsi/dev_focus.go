package jitsi

import (
	"context"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/parley-xmpp/parley/muc"
	"github.com/parley-xmpp/parley/server"
	"github.com/parley-xmpp/parley/server/stanza"
)

// DevFocusType is the component type of the development focus, as in
// `Component "focus.example.com" "dev_focus"` (in place of the
// client_proxy section that forwards to a real Jicofo).
const DevFocusType = "dev_focus"

// Namespaces and names the dev focus uses.
const (
	// NSFocus is the namespace of Jicofo's conference request and of the
	// focus's conference-properties presence extension.
	NSFocus = "http://jitsi.org/protocol/focus"
	// DevFocusNick is the nick (and resource) of the focus in every room;
	// lib-jitsi-meet and muc_meeting_id recognise the focus by it.
	DevFocusNick = "focus"
	// DevFocusCapsNode is the entity-capabilities node of the dev focus.
	DevFocusCapsNode = "urn:parley:dev-focus"

	dfNSCaps      = "http://jabber.org/protocol/caps"
	dfNSDiscoInfo = "http://jabber.org/protocol/disco#info"
	dfNSPing      = "urn:xmpp:ping"
)

// Owner policies (the dev_focus_owner option).
const (
	// DevFocusOwnerAuto grants owner to the first participant of a room
	// and, when no owner is left, to the longest-present one (Jicofo's
	// AutoOwnerRoleManager, enable-auto-owner).
	DevFocusOwnerAuto = "auto"
	// DevFocusOwnerAuthenticated grants owner to every participant logged
	// in on a non-anonymous VirtualHost (a token, a password), and lets
	// only such users start a conference (Jicofo with authentication on,
	// JITSI.md §4.6).
	DevFocusOwnerAuthenticated = "authenticated"
	// DevFocusOwnerNone grants nothing.
	DevFocusOwnerNone = "none"
)

// DevFocusOptions tune the dev focus with what the config file does not
// say. Zero fields take the defaults.
type DevFocusOptions struct {
	// JoinTimeout bounds how long a conference request waits for the
	// focus to be in the room and to have configured it (default 15 s,
	// Jicofo's reply timeout).
	JoinTimeout time.Duration
	// IdleTimeout is how long the focus stays in a room no participant
	// has joined (default 60 s).
	IdleTimeout time.Duration
}

func (o DevFocusOptions) withDefaults() DevFocusOptions {
	if o.JoinTimeout <= 0 {
		o.JoinTimeout = 15 * time.Second
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 60 * time.Second
	}
	return o
}

// DevFocus is a development stand-in for Jicofo's signalling, for
// trying a Jitsi client against parley with no other service running. It
// is a component serving the focus domain (what lib-jitsi-meet calls
// hosts.focus); it is off unless a config names it, and it is for
// development and testing only: it allocates no media (there is no
// videobridge and no Jingle), so participants meet and chat but exchange
// no audio or video.
//
// What it does, following Jicofo's client-visible behaviour (JITSI.md
// §5–7):
//   - answers the conference request (<conference
//     xmlns="http://jitsi.org/protocol/focus" room=...>) with ready="true"
//     and focusjid once it is in the room, joining (and so creating) the
//     room as occupant "focus" first and submitting the room configuration
//     with whois "anyone";
//   - grants owner following dev_focus_owner (auto: first participant,
//     re-elected when the owner leaves; authenticated: every user of a
//     non-anonymous host, who alone may start a conference; none);
//   - leaves a room when its last participant leaves, or when nobody came
//     within the idle timeout;
//   - joins the brewery room named by dev_focus_brewery (default
//     jvbbrewery@internal.auth.<domain> when that MUC component exists);
//   - answers disco#info (with entity capabilities) and ping.
//
// Its own JID is focus@<focus domain>/focus: list focus@<focus domain> in
// the admins of the MUC components, as Jitsi lists focus@auth.<domain>,
// so that it may create rooms under restrict_room_creation and owns every
// room.
type DevFocus struct {
	srv    *server.Server
	log    *slog.Logger
	domain string
	self   string // focus@domain/focus
	bare   string // focus@domain
	opts   DevFocusOptions
	owner  string
	muc    map[string]bool // MUC component domains
	brew   string          // brewery room JID, "" for none
	ver    string          // caps verification string

	mu      sync.Mutex
	queue   []dfEvent
	wake    chan struct{}
	stopped bool

	ctx    context.Context // the goroutine's; timers' work uses it
	cancel context.CancelFunc
	done   chan struct{}

	// Owned by the run goroutine.
	rooms    map[string]*dfRoom
	pending  map[string]dfPending // IQ id -> what it was for
	attached bool                 // a stanza to our own domain came back
	probes   int
}

var (
	_ server.Component = (*DevFocus)(nil)
	_ server.Stopper   = (*DevFocus)(nil)
)

// dfEvent is a stanza to handle or a timer that fired.
type dfEvent struct {
	el    *stanza.Element
	timer func()
}

// dfRoomState is where the focus stands in a room.
type dfRoomState int

const (
	dfJoining     dfRoomState = iota // presence sent, no self-presence yet
	dfConfiguring                    // in the room, configuration form in flight
	dfReady                          // in and configured: requests get ready="true"
	dfLeaving                        // unavailable sent
)

// dfRoom is the focus's view of one room.
type dfRoom struct {
	jid       string
	brewery   bool
	state     dfRoomState
	requests  []*stanza.Element // conference requests waiting for dfReady
	occupants map[string]*dfOccupant
	order     []string        // nicks in join order
	granting  map[string]bool // bare JIDs with an owner grant in flight
	hadPeople bool            // some participant was in the room
	timer     *time.Timer     // join or idle timeout
	epoch     int             // bumped on each state change, to ignore stale timers
}

// dfOccupant is another occupant of a room, as its presence shows it.
type dfOccupant struct {
	nick        string
	real        string // real full JID ("" when hidden)
	affiliation string
	role        string
}

// dfPending is an IQ the focus sent and waits a reply to.
type dfPending struct {
	room string
	kind string // "config-get", "config-set", "grant"
	bare string // for grants
}

// DevFocusFactory returns the server.ComponentFactory for dev_focus
// sections; register it with server.WithComponentType(DevFocusType, ...).
func DevFocusFactory(opts DevFocusOptions) server.ComponentFactory {
	return func(ctx context.Context, ch *server.ComponentHost) (server.Component, error) {
		return NewDevFocus(ctx, ch, opts)
	}
}

// NewDevFocus builds the dev focus of one component section and starts
// its goroutine (stopped by Stop). It reads dev_focus_owner and
// dev_focus_brewery from the section (or the global one).
func NewDevFocus(_ context.Context, ch *server.ComponentHost, opts DevFocusOptions) (*DevFocus, error) {
	srv := ch.Server
	cfg := srv.Config()
	f := &DevFocus{
		srv:     srv,
		log:     srv.Logger().With("component", DevFocusType, "host", ch.Name),
		domain:  ch.Name,
		bare:    DevFocusNick + "@" + ch.Name,
		self:    DevFocusNick + "@" + ch.Name + "/" + DevFocusNick,
		opts:    opts.withDefaults(),
		owner:   cfg.String(ch.Config, "dev_focus_owner", DevFocusOwnerAuto),
		muc:     map[string]bool{},
		wake:    make(chan struct{}, 1),
		done:    make(chan struct{}),
		rooms:   map[string]*dfRoom{},
		pending: map[string]dfPending{},
	}
	switch f.owner {
	case DevFocusOwnerAuto, DevFocusOwnerAuthenticated, DevFocusOwnerNone:
	default:
		return nil, fmt.Errorf("jitsi: %s %s: dev_focus_owner: want %q, %q or %q, got %q",
			DevFocusType, ch.Name, DevFocusOwnerAuto, DevFocusOwnerAuthenticated, DevFocusOwnerNone, f.owner)
	}
	for _, c := range cfg.Components {
		if c.Type == "muc" && cfg.Enabled(c) {
			f.muc[strings.ToLower(c.Name)] = true
			if !slices.ContainsFunc(cfg.Admins(c), func(a string) bool { return strings.EqualFold(a, f.bare) }) {
				f.log.Warn("the dev focus is not an admin of this MUC component: it may be refused rooms and cannot grant owner in rooms it did not create",
					"muc", c.Name, "add_to_admins", f.bare)
			}
		}
	}
	brew, err := f.breweryJID(cfg.String(ch.Config, "dev_focus_brewery", ""), ch)
	if err != nil {
		return nil, err
	}
	f.brew = brew
	f.ver = dfCapsVer(f.discoInfo(""))
	f.log.Warn("dev focus enabled: for development and testing only, it signals like Jicofo but allocates no media",
		"jid", f.self, "owner_policy", f.owner, "brewery", f.brew)

	f.ctx, f.cancel = context.WithCancel(context.Background())
	go f.run(f.ctx)
	return f, nil
}

// breweryJID resolves dev_focus_brewery: "" picks the default,
// "none" (or false in Lua, which reads as "") disables it.
func (f *DevFocus) breweryJID(opt string, ch *server.ComponentHost) (string, error) {
	switch strings.ToLower(opt) {
	case "none", "false":
		return "", nil
	case "":
		base := ""
		if h := ch.ParentHost(); h != nil {
			base = h.Name
		}
		base = f.srv.Config().String(ch.Config, "muc_mapper_domain_base", base)
		internal := "internal.auth." + base
		if base != "" && f.muc[internal] {
			return "jvbbrewery@" + internal, nil
		}
		return "", nil
	}
	j, err := jid.Parse(opt)
	if err != nil || j.Localpart() == "" || j.Resourcepart() != "" || !f.muc[j.Domainpart()] {
		return "", fmt.Errorf("jitsi: %s %s: dev_focus_brewery %q is not a room of a MUC component", DevFocusType, ch.Name, opt)
	}
	return j.String(), nil
}

// JID returns the focus's full JID (focus@<domain>/focus), its real JID
// in rooms.
func (f *DevFocus) JID() string { return f.self }

// Deliver implements server.Component: stanzas are queued for the focus's
// goroutine, so Deliver never blocks and may be re-entered by the rooms
// the focus talks to.
func (f *DevFocus) Deliver(_ context.Context, el *stanza.Element) {
	f.post(dfEvent{el: el})
}

func (f *DevFocus) post(ev dfEvent) {
	f.mu.Lock()
	if f.stopped {
		f.mu.Unlock()
		return
	}
	f.queue = append(f.queue, ev)
	f.mu.Unlock()
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// after runs fn on the focus's goroutine after d.
func (f *DevFocus) after(d time.Duration, fn func()) *time.Timer {
	return time.AfterFunc(d, func() { f.post(dfEvent{timer: fn}) })
}

// Stop implements server.Stopper: it ends the goroutine. Rooms are not
// left explicitly; the server is shutting down.
func (f *DevFocus) Stop(ctx context.Context) error {
	f.mu.Lock()
	f.stopped = true
	f.queue = nil
	f.mu.Unlock()
	f.cancel()
	select {
	case <-f.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("jitsi: %s %s: stop: %w", DevFocusType, f.domain, ctx.Err())
	}
}

func (f *DevFocus) run(ctx context.Context) {
	defer close(f.done)
	defer func() {
		for _, r := range f.rooms {
			if r.timer != nil {
				r.timer.Stop()
			}
		}
	}()
	if f.brew != "" {
		// The component is attached to its domain only after the factory
		// returns; joining before that would lose the room's answer.
		f.probe(ctx)
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-f.wake:
		}
		for {
			f.mu.Lock()
			if len(f.queue) == 0 {
				f.mu.Unlock()
				break
			}
			ev := f.queue[0]
			f.queue[0] = dfEvent{}
			f.queue = f.queue[1:]
			f.mu.Unlock()
			if ctx.Err() != nil {
				return
			}
			if ev.timer != nil {
				ev.timer()
				continue
			}
			f.handle(ctx, ev.el)
		}
	}
}

// dfProbeID marks the headline the focus sends itself to learn that the
// server routes its domain to it.
const dfProbeID = "devfocus-attached"

// probe sends a headline to the focus's own domain, again every 50 ms
// (for up to 10 s) until one arrives; then the brewery is joined.
func (f *DevFocus) probe(ctx context.Context) {
	if f.attached || f.probes >= 200 {
		return
	}
	f.probes++
	m := stanza.New(stanza.NSClient, "message").Set("type", "headline").Set("id", dfProbeID).
		Set("from", f.domain).Set("to", f.domain)
	f.send(ctx, m)
	f.after(50*time.Millisecond, func() { f.probe(f.ctx) })
}

func (f *DevFocus) send(ctx context.Context, el *stanza.Element) {
	f.srv.Route(ctx, el)
}

func (f *DevFocus) handle(ctx context.Context, el *stanza.Element) {
	switch el.Name.Local {
	case "iq":
		f.handleIQ(ctx, el)
	case "presence":
		f.handlePresence(ctx, el)
	case "message":
		if !f.attached && el.Get("id") == dfProbeID && el.Get("from") == f.domain {
			f.attached = true
			if f.brew != "" && f.rooms[f.brew] == nil {
				f.join(ctx, f.room(f.brew, true))
			}
		}
		// Other messages (room subjects, status notices, private
		// messages) need no answer from the focus.
	}
}

func (f *DevFocus) handleIQ(ctx context.Context, el *stanza.Element) {
	switch el.Get("type") {
	case "result", "error":
		f.handleReply(ctx, el)
		return
	}
	q := el.FirstElement()
	switch {
	case q == nil:
		f.send(ctx, server.ErrorReply(el, "modify", "bad-request", ""))
	case el.Get("type") == "set" && q.Name.Space == NSFocus && q.Name.Local == "conference":
		f.conferenceRequest(ctx, el, q)
	case el.Get("type") == "get" && q.Name.Space == dfNSDiscoInfo && q.Name.Local == "query":
		node := q.Get("node")
		if node != "" && node != DevFocusCapsNode+"#"+f.ver {
			f.send(ctx, server.ErrorReply(el, "cancel", "item-not-found", ""))
			return
		}
		r := server.IQResult(el)
		r.Add(f.discoInfo(node))
		f.send(ctx, r)
	case el.Get("type") == "get" && q.Name.Space == dfNSPing && q.Name.Local == "ping":
		f.send(ctx, server.IQResult(el))
	default:
		f.send(ctx, server.ErrorReply(el, "cancel", "service-unavailable", ""))
	}
}

// discoInfo is the focus's disco#info query payload.
func (f *DevFocus) discoInfo(node string) *stanza.Element {
	q := stanza.New(dfNSDiscoInfo, "query")
	if node != "" {
		q.Set("node", node)
	}
	q.Add(stanza.New(dfNSDiscoInfo, "identity").Set("category", "client").Set("type", "bot").
		Set("name", "parley dev focus (development only)"))
	for _, v := range []string{dfNSCaps, dfNSDiscoInfo, NSFocus, dfNSPing} {
		q.Add(stanza.New(dfNSDiscoInfo, "feature").Set("var", v))
	}
	return q
}

// dfCapsVer computes the XEP-0115 §5.1 verification string of a disco#info
// payload without forms.
func dfCapsVer(q *stanza.Element) string {
	var ids, feats []string
	for _, c := range q.Elements() {
		switch c.Name.Local {
		case "identity":
			// No identity of the focus has an xml:lang.
			ids = append(ids, c.Get("category")+"/"+c.Get("type")+"//"+c.Get("name"))
		case "feature":
			feats = append(feats, c.Get("var"))
		}
	}
	sort.Strings(ids)
	sort.Strings(feats)
	var b strings.Builder
	for _, s := range ids {
		b.WriteString(s + "<")
	}
	for _, s := range feats {
		b.WriteString(s + "<")
	}
	sum := sha1.Sum([]byte(b.String()))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// conferenceRequest answers Jicofo's conference IQ (JITSI.md §5 item 4).
func (f *DevFocus) conferenceRequest(ctx context.Context, el, q *stanza.Element) {
	rj, err := jid.Parse(q.Get("room"))
	if err != nil || rj.Localpart() == "" || rj.Resourcepart() != "" || !f.muc[rj.Domainpart()] {
		f.send(ctx, server.ErrorReply(el, "modify", "bad-request", "room must be a room of a MUC component"))
		return
	}
	if strings.HasPrefix(rj.Localpart(), HealthCheckPrefix) {
		f.send(ctx, server.ErrorReply(el, "cancel", "not-allowed", "health-check rooms are jicofo's own"))
		return
	}
	room := rj.String()
	r := f.rooms[room]
	if (r == nil || r.state == dfLeaving) && f.owner == DevFocusOwnerAuthenticated && !f.authenticated(el.Get("from")) {
		// Jicofo refuses to start a conference for a guest when
		// authentication is on; lib-jitsi-meet then reports
		// AUTHENTICATION_REQUIRED.
		f.send(ctx, server.ErrorReply(el, "auth", "not-authorized", "an authenticated user must start the conference"))
		return
	}
	if f.brew != "" && f.rooms[f.brew] == nil {
		// The brewery join failed earlier (its MUC was not up yet).
		f.join(ctx, f.room(f.brew, true))
	}
	switch {
	case r == nil:
		r = f.room(room, false)
		r.requests = append(r.requests, el)
		f.join(ctx, r)
	case r.state == dfReady:
		f.send(ctx, f.conferenceResult(el, room))
	default:
		// Joining, configuring, or leaving (then the focus comes back).
		r.requests = append(r.requests, el)
	}
}

func (f *DevFocus) conferenceResult(req *stanza.Element, room string) *stanza.Element {
	res := server.IQResult(req)
	c := stanza.New(NSFocus, "conference").Set("room", room).Set("ready", "true").Set("focusjid", f.bare)
	prop := func(name, value string) {
		c.Add(stanza.New(NSFocus, "property").Set("name", name).Set("value", value))
	}
	prop("authentication", fmt.Sprint(f.owner == DevFocusOwnerAuthenticated))
	prop("externalAuth", "false")
	prop("sipGatewayEnabled", "false")
	prop("visitors-supported", "false")
	return res.Add(c)
}

// authenticated reports whether a user JID belongs to a VirtualHost whose
// logins prove an identity (anything but the anonymous providers).
func (f *DevFocus) authenticated(from string) bool {
	j, err := jid.Parse(from)
	if err != nil || j.Localpart() == "" {
		return false
	}
	h := f.srv.Host(j.Domainpart())
	if h == nil || h.Auth == nil {
		return false
	}
	switch h.Auth.Name() {
	case "anonymous", JitsiAnonymousProviderName:
		return false
	}
	return true
}

func (f *DevFocus) room(roomJID string, brewery bool) *dfRoom {
	r := &dfRoom{jid: roomJID, brewery: brewery, occupants: map[string]*dfOccupant{}, granting: map[string]bool{}}
	f.rooms[roomJID] = r
	return r
}

// join sends the focus's join presence and arms the join timeout.
func (f *DevFocus) join(ctx context.Context, r *dfRoom) {
	r.state = dfJoining
	r.occupants = map[string]*dfOccupant{}
	r.order = nil
	r.granting = map[string]bool{}
	r.hadPeople = false
	p := f.presence(r.jid + "/" + DevFocusNick)
	p.Add(stanza.New(muc.NS, "x"))
	f.arm(r, f.opts.JoinTimeout, func() {
		ctx := f.ctx
		f.log.Warn("the dev focus got no answer from a room it joined", "room", r.jid)
		f.failRequests(ctx, r, "wait", "remote-server-timeout", "the focus could not join the room in time")
		f.leave(ctx, r)
		delete(f.rooms, r.jid)
	})
	f.send(ctx, p)
}

// presence is the focus's presence, with caps and the conference
// properties lib-jitsi-meet reads from the focus.
func (f *DevFocus) presence(to string) *stanza.Element {
	p := stanza.New(stanza.NSClient, "presence").Set("from", f.self).Set("to", to)
	p.Add(stanza.New(dfNSCaps, "c").Set("hash", "sha-1").Set("node", DevFocusCapsNode).Set("ver", f.ver))
	props := stanza.New(NSFocus, "conference-properties")
	props.Add(stanza.New(NSFocus, "property").Set("key", "support-terminate-restart").Set("value", "false"))
	return p.Add(props)
}

// arm replaces the room's timer; a timer that fires after the room moved
// on is ignored.
func (f *DevFocus) arm(r *dfRoom, d time.Duration, fn func()) {
	if r.timer != nil {
		r.timer.Stop()
	}
	r.epoch++
	epoch := r.epoch
	r.timer = f.after(d, func() {
		if f.rooms[r.jid] == r && r.epoch == epoch {
			r.timer = nil
			fn()
		}
	})
}

func (f *DevFocus) disarm(r *dfRoom) {
	if r.timer != nil {
		r.timer.Stop()
		r.timer = nil
	}
	r.epoch++
}

func (f *DevFocus) failRequests(ctx context.Context, r *dfRoom, typ, cond, text string) {
	for _, req := range r.requests {
		f.send(ctx, server.ErrorReply(req, typ, cond, text))
	}
	r.requests = nil
}

func (f *DevFocus) handlePresence(ctx context.Context, el *stanza.Element) {
	from, err := jid.Parse(el.Get("from"))
	if err != nil {
		return
	}
	r := f.rooms[from.Bare().String()]
	if r == nil {
		return
	}
	nick := from.Resourcepart()
	typ := el.Get("type")
	if typ == "error" {
		f.log.Warn("the dev focus was refused a room", "room", r.jid, "error", dfErrorCondition(el))
		f.disarm(r)
		f.failRequests(ctx, r, "cancel", "service-unavailable", "the focus could not join the room: "+dfErrorCondition(el))
		delete(f.rooms, r.jid)
		return
	}
	if nick == DevFocusNick {
		f.selfPresence(ctx, r, el)
		return
	}
	if r.brewery {
		return
	}
	if typ == "unavailable" {
		f.occupantLeft(ctx, r, nick)
		return
	}
	if typ != "" {
		return
	}
	f.occupantPresence(ctx, r, nick, el)
}

func (f *DevFocus) selfPresence(ctx context.Context, r *dfRoom, el *stanza.Element) {
	if el.Get("type") == "unavailable" {
		// Left, kicked, or the room was destroyed.
		f.disarm(r)
		delete(f.rooms, r.jid)
		if len(r.requests) > 0 {
			// Requests that came while leaving: come back for them.
			nr := f.room(r.jid, r.brewery)
			nr.requests = r.requests
			f.join(ctx, nr)
		}
		return
	}
	if r.state != dfJoining {
		return
	}
	if r.brewery {
		r.state = dfReady
		f.disarm(r)
		return
	}
	// Like Jicofo: read the form, then submit whois anyone so every
	// participant sees real JIDs (lib-jitsi-meet ignores occupants whose
	// JID it cannot see).
	r.state = dfConfiguring
	id := f.id()
	f.pending[id] = dfPending{room: r.jid, kind: "config-get"}
	iq := stanza.New(stanza.NSClient, "iq").Set("type", "get").Set("id", id).Set("from", f.self).Set("to", r.jid)
	f.send(ctx, iq.Add(stanza.New(muc.NSOwner, "query")))
}

func (f *DevFocus) handleReply(ctx context.Context, el *stanza.Element) {
	id := el.Get("id")
	p, ok := f.pending[id]
	if !ok {
		return
	}
	delete(f.pending, id)
	r := f.rooms[p.room]
	if r == nil {
		return
	}
	failed := el.Get("type") == "error"
	switch p.kind {
	case "config-get":
		if failed {
			f.log.Warn("the dev focus could not read the room configuration", "room", r.jid, "error", dfErrorCondition(el))
		}
		id := f.id()
		f.pending[id] = dfPending{room: r.jid, kind: "config-set"}
		form := stanza.New(muc.NSDataForms, "x").Set("type", "submit")
		field := func(v, value string) {
			form.Add(stanza.New(muc.NSDataForms, "field").Set("var", v).Add(stanza.New(muc.NSDataForms, "value").AddText(value)))
		}
		field("FORM_TYPE", muc.NSRoomConfig)
		field("muc#roomconfig_whois", muc.WhoisAnyone)
		iq := stanza.New(stanza.NSClient, "iq").Set("type", "set").Set("id", id).Set("from", f.self).Set("to", r.jid)
		f.send(ctx, iq.Add(stanza.New(muc.NSOwner, "query").Add(form)))
	case "config-set":
		if failed {
			f.log.Warn("the dev focus could not configure the room", "room", r.jid, "error", dfErrorCondition(el))
		}
		if r.state != dfConfiguring {
			return
		}
		r.state = dfReady
		for _, req := range r.requests {
			f.send(ctx, f.conferenceResult(req, r.jid))
		}
		r.requests = nil
		if r.hadPeople || len(r.order) > 0 {
			f.disarm(r)
		} else {
			f.arm(r, f.opts.IdleTimeout, func() { f.leave(f.ctx, r) })
		}
		f.electOwners(ctx, r)
	case "grant":
		delete(r.granting, p.bare)
		if failed {
			f.log.Warn("the dev focus could not grant owner", "room", r.jid, "jid", p.bare, "error", dfErrorCondition(el))
		}
	}
}

func (f *DevFocus) occupantPresence(ctx context.Context, r *dfRoom, nick string, el *stanza.Element) {
	o := r.occupants[nick]
	if o == nil {
		o = &dfOccupant{nick: nick}
		r.occupants[nick] = o
		r.order = append(r.order, nick)
	}
	if x := el.Child(muc.NSUser, "x"); x != nil {
		if it := x.Child(muc.NSUser, "item"); it != nil {
			if j := it.Get("jid"); j != "" {
				o.real = j
			}
			o.affiliation, o.role = it.Get("affiliation"), it.Get("role")
		}
	}
	if !r.hadPeople {
		r.hadPeople = true
		if r.state == dfReady {
			f.disarm(r)
		}
	}
	f.electOwners(ctx, r)
}

func (f *DevFocus) occupantLeft(ctx context.Context, r *dfRoom, nick string) {
	if _, ok := r.occupants[nick]; !ok {
		return
	}
	delete(r.occupants, nick)
	r.order = slices.DeleteFunc(r.order, func(n string) bool { return n == nick })
	if len(r.order) == 0 && r.hadPeople && r.state == dfReady {
		// Jicofo ends the conference when its last participant leaves.
		f.leave(ctx, r)
		return
	}
	f.electOwners(ctx, r)
}

// electOwners applies the owner policy to the room's participants.
func (f *DevFocus) electOwners(ctx context.Context, r *dfRoom) {
	if r.state != dfReady || r.brewery {
		return
	}
	switch f.owner {
	case DevFocusOwnerAuto:
		for _, n := range r.order {
			if r.occupants[n].affiliation == string(muc.AffiliationOwner) {
				return
			}
		}
		if len(r.granting) > 0 {
			return
		}
		for _, n := range r.order {
			if o := r.occupants[n]; o.real != "" {
				f.grant(ctx, r, o)
				return
			}
		}
	case DevFocusOwnerAuthenticated:
		for _, n := range r.order {
			o := r.occupants[n]
			if o.real != "" && o.affiliation != string(muc.AffiliationOwner) && f.authenticated(o.real) {
				f.grant(ctx, r, o)
			}
		}
	}
}

func (f *DevFocus) grant(ctx context.Context, r *dfRoom, o *dfOccupant) {
	j, err := jid.Parse(o.real)
	if err != nil {
		return
	}
	bare := j.Bare().String()
	if r.granting[bare] {
		return
	}
	r.granting[bare] = true
	id := f.id()
	f.pending[id] = dfPending{room: r.jid, kind: "grant", bare: bare}
	item := stanza.New(muc.NSAdmin, "item").Set("affiliation", string(muc.AffiliationOwner)).Set("jid", bare)
	iq := stanza.New(stanza.NSClient, "iq").Set("type", "set").Set("id", id).Set("from", f.self).Set("to", r.jid)
	f.send(ctx, iq.Add(stanza.New(muc.NSAdmin, "query").Add(item)))
}

// leave sends unavailable presence to the room; the self-presence that
// answers it forgets the room.
func (f *DevFocus) leave(ctx context.Context, r *dfRoom) {
	if r.state == dfLeaving {
		return
	}
	f.disarm(r)
	r.state = dfLeaving
	p := stanza.New(stanza.NSClient, "presence").Set("from", f.self).Set("to", r.jid+"/"+DevFocusNick).Set("type", "unavailable")
	f.send(ctx, p)
}

func (f *DevFocus) id() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "devfocus-" + hex.EncodeToString(b[:])
}

// dfErrorCondition names the condition of a stanza error.
func dfErrorCondition(el *stanza.Element) string {
	if e := el.Child(el.Name.Space, "error"); e != nil {
		for _, c := range e.Elements() {
			if c.Name.Space == stanza.NSStanzas && c.Name.Local != "text" {
				return c.Name.Local
			}
		}
	}
	return "undefined-condition"
}
