package muc

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strconv"

	"mellium.im/xmpp/jid"

	"github.com/parley-xmpp/parley/server/stanza"
)

func (r *Room) handleIQToRoom(ctx context.Context, el *stanza.Element, from jid.JID) {
	typ := el.Get("type")
	if typ != "get" && typ != "set" {
		return
	}
	q := el.FirstElement()
	if q == nil {
		r.replyError(el, deny("modify", "bad-request", "", ""))
		return
	}
	key := typ + " " + q.Name.Space + " " + q.Name.Local
	switch key {
	case "get " + NSDiscoInfo + " query":
		r.Send(r.discoInfo(ctx, el, q, from))
	case "get " + NSDiscoItems + " query":
		r.Send(reply(el).Add(stanza.New(NSDiscoItems, "query")))
	case "set " + NSAdmin + " query":
		r.handleAdminSet(ctx, el, q)
	case "get " + NSAdmin + " query":
		r.handleAdminGet(ctx, el, q)
	case "set " + NSOwner + " query":
		r.handleOwnerSet(ctx, el, q, from)
	case "get " + NSOwner + " query":
		r.handleOwnerGet(ctx, el, from)
	default:
		r.replyError(el, deny("cancel", "service-unavailable", "", ""))
	}
}

// discoInfo builds the room's disco#info reply through the DiscoInfo hooks.
func (r *Room) discoInfo(ctx context.Context, el, q *stanza.Element, from jid.JID) *stanza.Element {
	node := q.Get("node")
	rq := stanza.New(NSDiscoInfo, "query").Set("node", node)
	ev := &DiscoInfoEvent{Room: r, Stanza: el, From: from, Node: node, Reply: rq}
	if node == "" {
		ev.Form = NewForm("result", NSRoomInfo)
	}
	if err := r.svc.Events.DiscoInfo.Fire(ctx, ev); err != nil {
		r.svc.log.Error("muc-disco#info hook failed", "room", r.jid, "err", err)
	}
	if ev.Form != nil {
		rq.Add(ev.Form.Element())
	}
	return reply(el).Add(rq)
}

// handleIQToOccupant routes an IQ through an occupant JID (XEP-0045
// §7.7 / Prosody's handle_iq_to_occupant): the request goes to the target
// occupant's primary session from the sender's occupant JID, with an id
// that encodes where the response must go back to.
func (r *Room) handleIQToOccupant(_ context.Context, el *stanza.Element, from, to jid.JID) {
	typ := el.Get("type")
	target := r.occupants[to.String()]
	if typ == "error" || typ == "result" {
		if target == nil {
			return
		}
		sender, origID, hash, ok := decodeIQID(el.Get("id"))
		if !ok {
			return
		}
		if f := from.String(); f != sender && f != bareOf(sender) {
			return
		}
		senderNick := r.byReal[sender]
		if senderNick == "" {
			return
		}
		session := ""
		for _, s := range target.sessions {
			if hmac.Equal(r.sessionHash(s.jid), hash) {
				session = s.jid
				break
			}
		}
		if session == "" {
			return
		}
		out := el.ShallowCopy()
		out.Set("from", senderNick).Set("to", session).Set("id", origID)
		r.Send(out)
		return
	}
	if typ != "get" && typ != "set" {
		return
	}
	cur := r.byReal[from.String()]
	if cur == "" {
		if q := el.FirstElement(); q != nil && (q.Name.Space == NSDiscoInfo || q.Name.Space == NSDiscoItems) {
			// SECURITY-CASES 140 (XEP-0045 §6.7): disco of an occupant
			// by a non-occupant.
			r.replyError(el, deny("modify", "bad-request", "", r.jid))
			return
		}
		// SECURITY-CASES 137: IQs only from occupants.
		r.replyError(el, deny("cancel", "not-acceptable", "You are not currently connected to this chat", r.jid))
		return
	}
	if target == nil {
		r.replyError(el, deny("cancel", "item-not-found", "Recipient not in room", r.jid))
		return
	}
	if cur == to.String() && typ == "get" && el.Child(NSPing, "ping") != nil {
		// XEP-0410 self-ping.
		r.Send(reply(el))
		return
	}
	if !r.config.AllowQueryUsers {
		// SECURITY-CASES 138: the room does not relay IQs to occupants.
		r.replyError(el, deny("cancel", "not-allowed", "Queries to the conference members are not allowed in this room", r.jid))
		return
	}
	out := el.ShallowCopy()
	out.Set("id", encodeIQID(target.primary, el.Get("id"), r.sessionHash(from.String())))
	out.Set("from", cur)
	dest := target.primary
	if q := el.FirstElement(); q != nil {
		switch q.Name.Space {
		case "vcard-temp", "http://jabber.org/protocol/pubsub", "urn:ietf:params:xml:ns:vcard-4.0":
			dest = bareOf(dest)
		}
	}
	out.Set("to", dest)
	r.Send(out)
}

// sessionHash is the first 8 bytes of HMAC-SHA256(room salt, real JID).
func (r *Room) sessionHash(real string) []byte {
	m := hmac.New(sha256.New, []byte(r.Salt()))
	m.Write([]byte(real))
	return m.Sum(nil)[:8]
}

// Salt returns the room's secret salt (for occupant ids and IQ routing).
func (r *Room) Salt() string {
	if r.salt == "" {
		r.salt = r.svc.newID(16)
	}
	return r.salt
}

func encodeIQID(target, id string, hash []byte) string {
	var b bytes.Buffer
	b.WriteString(target)
	b.WriteByte(0)
	b.WriteString(id)
	b.WriteByte(0)
	b.Write(hash)
	return base64.StdEncoding.EncodeToString(b.Bytes())
}

// decodeIQID reverses encodeIQID.
func decodeIQID(id string) (target, orig string, hash []byte, ok bool) {
	raw, err := base64.StdEncoding.DecodeString(id)
	if err != nil {
		return "", "", nil, false
	}
	i := bytes.IndexByte(raw, 0)
	if i <= 0 {
		return "", "", nil, false
	}
	rest := raw[i+1:]
	j := bytes.IndexByte(rest, 0)
	if j < 0 || len(rest[j+1:]) == 0 {
		return "", "", nil, false
	}
	return string(raw[:i]), string(rest[:j]), rest[j+1:], true
}

// stampOccupantID replaces any occupant-id in el with o's (XEP-0421;
// SECURITY-CASES 28: client-supplied ones are stripped).
func (r *Room) stampOccupantID(el *stanza.Element, o *Occupant) {
	el.RemoveChildren(NSOccupantID, "occupant-id")
	el.Add(stanza.New(NSOccupantID, "occupant-id").Set("id", r.OccupantID(o)))
}

// OccupantID returns the stable XEP-0421 id of o in this room.
func (r *Room) OccupantID(o *Occupant) string {
	if o.stableID == "" {
		m := hmac.New(sha256.New, []byte(o.BareJID))
		m.Write([]byte(r.Salt()))
		o.stableID = base64.StdEncoding.EncodeToString(m.Sum(nil))
	}
	return o.stableID
}

// serviceDiscoInfo answers disco#info to the service domain.
func (s *Service) serviceDiscoInfo(el, q *stanza.Element) *stanza.Element {
	if q.Get("node") != "" {
		return deny("cancel", "item-not-found", "", "").Reply(el)
	}
	rq := stanza.New(NSDiscoInfo, "query")
	rq.Add(stanza.New(NSDiscoInfo, "identity").Set("category", "conference").Set("type", "text").Set("name", s.cfg().name))
	feats := []string{NSDiscoInfo, NSDiscoItems, NS, NSUnique}
	if s.cfg().occupantID {
		feats = append(feats, NSOccupantID)
	}
	if s.ping {
		feats = append(feats, NSPing)
	}
	for _, f := range feats {
		rq.Add(stanza.New(NSDiscoInfo, "feature").Set("var", f))
	}
	return reply(el).Add(rq)
}

// serviceDiscoItems lists the public rooms (hidden ones are left out;
// Jitsi's muc_hide_all hides them all).
func (s *Service) serviceDiscoItems(ctx context.Context, el, q *stanza.Element) *stanza.Element {
	if q.Get("node") != "" {
		return deny("cancel", "item-not-found", "", "").Reply(el)
	}
	rq := stanza.New(NSDiscoItems, "query")
	for _, j := range s.Rooms() {
		var name string
		public := false
		_ = s.Do(ctx, j, func(r *Room) {
			public = !r.config.Hidden
			name = r.config.Name
		})
		if public {
			rq.Add(stanza.New(NSDiscoItems, "item").Set("jid", j).Set("name", name))
		}
	}
	return reply(el).Add(rq)
}

// itoa is strconv.Itoa, for the disco form.
func itoa(n int) string { return strconv.Itoa(n) }
