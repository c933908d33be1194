package jitsitest

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"strings"

	"github.com/parley-xmpp/parley/server/stanza"
)

// Deployment describes a running Jitsi signalling layout.
type Deployment struct {
	// C2SAddr is the c2s TCP address; HTTPURL the HTTP base URL.
	C2SAddr, HTTPURL string
	// Domain is D; AuthDomain auth.D; MUC the conference MUC;
	// InternalMUC the brewery MUC; Focus the client_proxy (focus.D).
	Domain, AuthDomain, MUC, InternalMUC, Focus string
	// FocusPassword and JVBPassword are the service accounts' passwords.
	FocusPassword, JVBPassword string
	// TLS is what Jicofo and the bridge use for STARTTLS.
	TLS *tls.Config
	// Token mints the web client's token for a room (nil without token
	// auth).
	Token func(room string) (string, error)
	// Room is the room name (default "jointest").
	Room string
}

// Brewery is the JVB brewery JID (jvbbrewery@InternalMUC).
func (d Deployment) Brewery() string { return "jvbbrewery@" + d.InternalMUC }

// Sequence holds the clients of a finished join sequence, connected, for
// further checks. Close disconnects them.
type Sequence struct {
	Jicofo *Jicofo
	JVB    *JVB
	Web    *Web
	// Room is the conference room JID; Bridge the JVB's brewery occupant.
	Room, Bridge string
}

// Close disconnects every client.
func (s *Sequence) Close() error {
	var errs []error
	if s.Web != nil {
		errs = append(errs, s.Web.Close())
	}
	if s.JVB != nil {
		errs = append(errs, s.JVB.Close())
	}
	if s.Jicofo != nil {
		errs = append(errs, s.Jicofo.Close())
	}
	return errors.Join(errs...)
}

// RunJoinSequence runs the P0 join sequence of docs JITSI.md §7 (steps
// 1-6) against d with a Jicofo-, a JVB- and a web-shaped client. It returns
// the connected clients (also on error, as far as they got) and every
// check that failed. The caller closes the Sequence.
func RunJoinSequence(ctx context.Context, d Deployment) (*Sequence, error) {
	seq := &Sequence{}
	var errs []error
	check := func(ok bool, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	fatal := func(err error) (*Sequence, error) {
		return seq, errors.Join(append(errs, err)...)
	}
	brewery := d.Brewery()

	// §2 "TCP c2s", "XEP-0198 on TCP"; §5 Jicofo 1 and 3: STARTTLS,
	// SCRAM-SHA-1, bind "focus", SM with resumption, brewery joined (an
	// admin creates it) and configured (admins are owners).
	jicofo, err := StartJicofo(ctx, d.C2SAddr, JicofoConfig{Domain: d.AuthDomain, Password: d.FocusPassword, Brewery: brewery, TLS: d.TLS})
	if err != nil {
		return fatal(err)
	}
	seq.Jicofo = jicofo
	check(jicofo.JID() == "focus@"+d.AuthDomain+"/focus", "jicofo bound %s, want focus@%s/focus", jicofo.JID(), d.AuthDomain)
	check(jicofo.SMID() != "", "jicofo: stream management resumption not enabled")

	// §2 "Brewery MUC"; §5 JVB: stats presence seen by jicofo, and its
	// republication too.
	jvb, err := StartJVB(ctx, d.C2SAddr, JVBConfig{Domain: d.AuthDomain, Password: d.JVBPassword, Brewery: brewery, Nick: "jvb-1",
		Stress: "0.1", TLS: d.TLS})
	if err != nil {
		return fatal(err)
	}
	seq.JVB = jvb
	check(jvb.SMID() != "", "jvb: stream management resumption not enabled")
	bridge, err := jicofo.WaitBridge(ctx, func(b Bridge) bool { return b.Stats["stress_level"] == "0.1" })
	if err != nil {
		return fatal(err)
	}
	seq.Bridge = bridge.Occupant
	check(bridge.Occupant == brewery+"/jvb-1" && bridge.Stats["region"] == "test", "bridge %+v", bridge)
	if err := jvb.Publish(ctx, BridgeStats("0.7")); err != nil {
		return fatal(err)
	}
	if _, err := jicofo.WaitBridge(ctx, func(b Bridge) bool { return b.Stats["stress_level"] == "0.7" }); err != nil {
		return fatal(fmt.Errorf("republished stats: %w", err))
	}

	// §7 steps 1-2: WebSocket with room (and token) in the URL, SASL
	// ANONYMOUS, bind, SM.
	room := d.Room
	if room == "" {
		room = "jointest"
	}
	roomJID := room + "@" + d.MUC
	seq.Room = roomJID
	var token string
	if d.Token != nil {
		if token, err = d.Token(room); err != nil {
			return fatal(err)
		}
	}
	web, err := DialWeb(ctx, WebConfig{BaseURL: d.HTTPURL, Domain: d.Domain, Room: room, Token: token})
	if err != nil {
		return fatal(err)
	}
	seq.Web = web
	_, domainRes, _ := strings.Cut(web.JID(), "@")
	check(strings.HasPrefix(domainRes, d.Domain+"/") && web.SMID() != "", "web bound %s (SM id %q)", web.JID(), web.SMID())

	// §7 step 3; §2 "Disco on D", "XEP-0199 ping".
	info, err := web.DiscoInfo(ctx, d.Domain)
	if err != nil {
		return fatal(err)
	}
	check(HasFeature(info, NSPing), "disco#info %s lacks urn:xmpp:ping: %s", d.Domain, info)
	pong, err := web.Request(ctx, stanza.New(stanza.NSClient, "iq").Set("type", "get").Set("to", d.Domain).Add(stanza.New(NSPing, "ping")))
	if err != nil {
		return fatal(err)
	}
	check(pong.Get("type") == "result", "ping %s: %s", d.Domain, pong)

	// §2 "Room creation restricted to admins" (without a token, whose
	// room claim would be checked first).
	if d.Token == nil {
		_, err := web.JoinRoom(ctx, "nofocus@"+d.MUC)
		var pe *PresenceError
		check(errors.As(err, &pe) && pe.Type == "cancel" && pe.Condition == "not-allowed" && pe.Text == "Room creation is restricted",
			"joining a room the focus did not create: %v, want cancel/not-allowed \"Room creation is restricted\"", err)
	}

	// §7 step 4; §2 "client_proxy": the request reaches jicofo from
	// focus.D/<web full JID>; jicofo creates the room, is owner, submits
	// the form, answers ready.
	conf, err := web.Conference(ctx, d.Focus, roomJID)
	if err != nil {
		return fatal(err)
	}
	check(conf.Get("ready") == "true" && conf.Get("focusjid") == "focus@"+d.AuthDomain, "conference answer %s", conf)
	fc := jicofo.Conference(roomJID)
	if fc == nil {
		return fatal(fmt.Errorf("jicofo runs no conference in %s", roomJID))
	}
	check(fc.Requester == web.JID(), "jicofo saw the request from %q, want %q (client_proxy from)", fc.Requester, web.JID())
	// §2 "Admins are owners", "Owner config form", "meetingId".
	it := ItemOf(fc.SelfPresence)
	check(it.Affiliation == "owner" && it.Role == "moderator", "focus item %+v, want owner/moderator", it)
	check(fc.MeetingID != "" && HasField(fc.Form, RoomConfigWhois), "owner form lacks meetingId or whois: %s", fc.Form)

	// §7 step 5: the participant joins, sees the focus (real JID visible)
	// and its own 110 presence; jicofo grants owner.
	self, err := web.JoinRoom(ctx, roomJID)
	if err != nil {
		return fatal(err)
	}
	check(ItemOf(self).JID == web.JID(), "self presence item %+v, want jid %s", ItemOf(self), web.JID())
	focus := web.Occupants(roomJID)[FocusNick]
	fi := ItemOf(focus)
	check(strings.HasPrefix(fi.JID, conf.Get("focusjid")+"/") && fi.Affiliation == "owner",
		"focus as seen by the participant: %+v (presence %s)", fi, focus)
	me := roomJID + "/" + web.Nick()
	if err := web.Wait(ctx, "owner from jicofo", func(v View) bool { return ItemOf(v.Presence(me)).Affiliation == "owner" }); err != nil {
		return fatal(err)
	}
	check(ItemOf(web.Snapshot(me)).Role == "moderator", "after the owner grant: %+v, want moderator", ItemOf(web.Snapshot(me)))
	// meetingId in the room's disco#info (occupants only, muc_hide_all).
	rinfo, err := web.DiscoInfo(ctx, roomJID)
	if err != nil {
		return fatal(err)
	}
	got := FormValue(rinfo.Child(NSData, "x"), MeetingIDField)
	check(got == fc.MeetingID, "room disco meetingId %q, want %q", got, fc.MeetingID)

	// §7 step 6; §2 "Private IQ routing through occupant JIDs": disco
	// and Jingle to the participant, Colibri2 to the bridge's brewery
	// occupant JID.
	alloc, err := jicofo.Invite(ctx, roomJID, web.Nick(), bridge.Occupant)
	if err != nil {
		return fatal(err)
	}
	check(HasFeature(alloc.Disco, NSJingle), "participant disco %s", alloc.Disco)
	mod := alloc.Colibri.Child(NSColibri2, "conference-modified")
	check(mod != nil && mod.Get("meeting-id") == fc.MeetingID, "colibri2 answer %s", alloc.Colibri)
	reqs := jvb.Colibri2Requests()
	check(len(reqs) == 1 && reqs[0].Get("from") == brewery+"/"+FocusNick,
		"bridge got %d colibri2 requests (first from %q), want 1 from the focus's brewery occupant JID", len(reqs), firstFrom(reqs))
	jingle := web.Jingle()
	check(len(jingle) == 1 && jingle[0].Get("from") == roomJID+"/"+FocusNick,
		"participant got %d jingle requests (first from %q), want 1 from the focus occupant", len(jingle), firstFrom(jingle))
	return seq, errors.Join(errs...)
}

func firstFrom(els []*stanza.Element) string {
	if len(els) == 0 {
		return ""
	}
	return els[0].Get("from")
}

// HasFeature reports whether a disco#info query lists feature v.
func HasFeature(q *stanza.Element, v string) bool {
	for _, f := range q.Elements() {
		if f.Name.Local == "feature" && f.Get("var") == v {
			return true
		}
	}
	return false
}

// HasField reports whether a data form has field name.
func HasField(form *stanza.Element, name string) bool {
	if form == nil {
		return false
	}
	for _, f := range form.Elements() {
		if f.Name.Local == "field" && f.Get("var") == name {
			return true
		}
	}
	return false
}
