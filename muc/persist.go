package muc

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/parley-xmpp/parley/server/stanza"
	"github.com/parley-xmpp/parley/server/storage"
)

// Rooms are stored as Prosody 0.12 stores them (new_muc_storage_format):
// store "config", one table per room node, with _jid, _data (the
// configuration), _affiliation_data and one key per affiliated bare JID.
const storeConfig = "config"

// roomStore keeps persistent rooms and tombstones in the server's store.
type roomStore struct {
	s    *Service
	st   storage.Store
	host string

	mu    sync.Mutex
	known map[string]bool
}

func newRoomStore(s *Service) *roomStore {
	return &roomStore{s: s, st: s.srv.Store(), host: s.domain, known: map[string]bool{}}
}

// index learns which rooms have stored data.
func (rs *roomStore) index(ctx context.Context) error {
	if rs.st == nil {
		return nil
	}
	nodes, err := rs.st.Users(ctx, rs.host, storeConfig)
	if err != nil {
		return fmt.Errorf("listing stored rooms: %w", err)
	}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	for _, n := range nodes {
		rs.known[n+"@"+rs.host] = true
	}
	return nil
}

func (rs *roomStore) has(roomJID string) bool {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return rs.known[roomJID]
}

// load restores a stored room (or tombstone); nil when there is none.
func (rs *roomStore) load(ctx context.Context, roomJID string) (*Room, error) {
	node, _, _ := strings.Cut(roomJID, "@")
	t, err := rs.st.Get(ctx, rs.host, storeConfig, node)
	if err != nil {
		return nil, fmt.Errorf("muc: loading room %s: %w", roomJID, err)
	}
	if t == nil {
		rs.mu.Lock()
		delete(rs.known, roomJID)
		rs.mu.Unlock()
		return nil, nil
	}
	r := newRoom(rs.s, roomJID)
	data, _ := t.Sub("_data")
	decodeConfig(&r.config, data)
	if data != nil {
		if b, _ := data.Bool("destroyed"); b {
			ts, _ := data.Number("locked")
			tomb := &tombstone{until: time.Unix(int64(ts), 0)}
			tomb.reason, _ = data.String("reason")
			tomb.newJID, _ = data.String("newjid")
			r.tomb = tomb
		}
		r.subject, _ = data.String("subject")
		r.subjectFrom, _ = data.String("subject_from")
		if ts, ok := data.Number("subject_time"); ok {
			r.subjectTime = time.Unix(int64(ts), 0)
		}
		r.salt, _ = data.String("occupant_id_salt")
	}
	for k, v := range t {
		ks, ok := k.(string)
		if !ok || strings.HasPrefix(ks, "_") {
			continue
		}
		if a, ok := v.(string); ok {
			if aff, ok := ParseAffiliation(a); ok && aff != AffiliationNone {
				r.affiliations[ks] = aff
			}
		}
	}
	if ad, ok := t.Sub("_affiliation_data"); ok {
		for k, v := range ad {
			ks, _ := k.(string)
			if d, ok := v.(storage.Table); ok && ks != "" {
				if n, ok := d.String("reserved_nickname"); ok {
					r.reserved[ks] = n
				}
			}
		}
	}
	return r, nil
}

// save stores a persistent room or a tombstone.
func (rs *roomStore) save(ctx context.Context, r *Room) error {
	if rs.st == nil {
		return nil
	}
	data := encodeConfig(&r.config)
	if r.subject != "" {
		data["subject"] = r.subject
		data["subject_from"] = r.subjectFrom
		data["subject_time"] = float64(r.subjectTime.Unix())
	}
	if r.salt != "" {
		data["occupant_id_salt"] = r.salt
	}
	if r.tomb != nil {
		data["destroyed"] = true
		data["locked"] = float64(r.tomb.until.Unix())
		if r.tomb.reason != "" {
			data["reason"] = r.tomb.reason
		}
		if r.tomb.newJID != "" {
			data["newjid"] = r.tomb.newJID
		}
	}
	t := storage.Table{"_jid": r.jid, "_data": data}
	affData := storage.Table{}
	for j, a := range r.affiliations {
		t[j] = string(a)
	}
	for j, n := range r.reserved {
		affData[j] = storage.Table{"reserved_nickname": n}
	}
	if len(affData) > 0 {
		t["_affiliation_data"] = affData
	}
	if err := rs.st.Set(ctx, rs.host, storeConfig, r.node, t); err != nil {
		return fmt.Errorf("muc: saving room %s: %w", r.jid, err)
	}
	rs.mu.Lock()
	rs.known[r.jid] = true
	rs.mu.Unlock()
	return nil
}

// remove deletes a room's stored data.
func (rs *roomStore) remove(ctx context.Context, roomJID string) error {
	rs.mu.Lock()
	known := rs.known[roomJID]
	delete(rs.known, roomJID)
	rs.mu.Unlock()
	if !known || rs.st == nil {
		return nil
	}
	node, _, _ := strings.Cut(roomJID, "@")
	if err := rs.st.Set(ctx, rs.host, storeConfig, node, nil); err != nil {
		return fmt.Errorf("muc: deleting room %s: %w", roomJID, err)
	}
	return nil
}

// saveState stores the room if it is persistent and deletes stored data
// of a room that stopped being persistent (Prosody's room:save(true)).
func (r *Room) saveState(ctx context.Context) {
	var err error
	switch {
	case r.gone:
		return
	case r.config.Persistent:
		err = r.svc.store.save(ctx, r)
	default:
		err = r.svc.store.remove(ctx, r.jid)
	}
	if err != nil {
		r.svc.log.Error("room state not saved", "room", r.jid, "err", err)
	}
}

func encodeConfig(c *RoomConfig) storage.Table {
	t := storage.Table{}
	str := func(k, v string) {
		if v != "" {
			t[k] = v
		}
	}
	flag := func(k string, v bool) {
		if v {
			t[k] = true
		}
	}
	str("name", c.Name)
	str("description", c.Description)
	str("language", c.Language)
	str("password", c.Password)
	flag("hidden", c.Hidden)
	flag("persistent", c.Persistent)
	flag("members_only", c.MembersOnly)
	flag("allow_member_invites", c.AllowMemberInvites)
	flag("moderated", c.Moderated)
	flag("changesubject", c.ChangeSubject)
	str("whois", c.Whois)
	if !c.AllowQueryUsers {
		t["allow_query_users"] = false
	}
	if c.HistoryLength != defaultHistoryLength {
		t["history_length"] = float64(c.HistoryLength)
	}
	if c.DefaultHistoryMessages != defaultHistoryLength {
		t["default_history_messages"] = float64(c.DefaultHistoryMessages)
	}
	pb := storage.Table{}
	for _, r := range c.PresenceBroadcast {
		pb[string(r)] = true
	}
	t["presence_broadcast"] = pb
	return t
}

func decodeConfig(c *RoomConfig, t storage.Table) {
	if t == nil {
		return
	}
	c.Name, _ = t.String("name")
	c.Description, _ = t.String("description")
	c.Language, _ = t.String("language")
	c.Password, _ = t.String("password")
	c.Hidden, _ = t.Bool("hidden")
	c.Persistent, _ = t.Bool("persistent")
	c.MembersOnly, _ = t.Bool("members_only")
	c.AllowMemberInvites, _ = t.Bool("allow_member_invites")
	c.Moderated, _ = t.Bool("moderated")
	c.ChangeSubject, _ = t.Bool("changesubject")
	if b, ok := t.Bool("allow_query_users"); ok {
		c.AllowQueryUsers = b
	}
	if w, ok := t.String("whois"); ok && (w == WhoisAnyone || w == WhoisModerators) {
		c.Whois = w
	}
	if n, ok := t.Int("history_length"); ok && n >= 0 {
		c.HistoryLength = int(n)
	}
	if n, ok := t.Int("default_history_messages"); ok && n >= 0 {
		c.DefaultHistoryMessages = int(n)
	}
	if pb, ok := t.Sub("presence_broadcast"); ok {
		c.PresenceBroadcast = nil
		for _, r := range []Role{RoleNone, RoleVisitor, RoleParticipant, RoleModerator} {
			if b, _ := pb.Bool(string(r)); b {
				c.PresenceBroadcast = append(c.PresenceBroadcast, r)
			}
		}
	}
}

// tombstone marks a destroyed persistent room (muc_tombstones): until it
// expires, stanzas to the room get <gone/>.
type tombstone struct {
	until          time.Time
	reason, newJID string
}

func (s *Service) leaveTombstone(ctx context.Context, ev *DestroyEvent) error {
	r := ev.Room
	if !s.cfg().tombstones || !r.config.Persistent || r.tomb != nil {
		return nil
	}
	t := newRoom(s, r.jid)
	t.tomb = &tombstone{until: s.now().Add(s.cfg().tombstoneExpiry), reason: ev.Reason, newJID: ev.NewJID}
	t.config.Persistent = true
	t.config.Hidden = true
	s.mu.Lock()
	if _, taken := s.rooms[r.jid]; !taken {
		s.rooms[r.jid] = t
	}
	s.mu.Unlock()
	if err := s.store.save(ctx, t); err != nil {
		s.log.Error("tombstone not saved", "room", r.jid, "err", err)
	}
	return nil
}

// tombstoneBlocks answers a stanza to a destroyed room with <gone/>, or
// removes the tombstone (expired, or an admin recreates the room) and
// reports false so the stanza is handled as for a new room.
func (r *Room) tombstoneBlocks(ctx context.Context, el *stanza.Element, from jid.JID) bool {
	s := r.svc
	if !s.now().Before(r.tomb.until) || (s.IsAdmin(from.String()) && el.Name.Local == "presence" && el.Get("type") == "") {
		s.forget(r)
		if err := s.store.remove(ctx, r.jid); err != nil {
			s.log.Error("tombstone not deleted", "room", r.jid, "err", err)
		}
		return false
	}
	d := deny("cancel", "gone", r.tomb.reason, s.domain)
	if r.tomb.newJID != "" {
		d.Gone = "xmpp:" + r.tomb.newJID + "?join"
	}
	r.replyError(el, d)
	return true
}
