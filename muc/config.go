package muc

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/parley-xmpp/parley/config"
)

// OptDefaultAllowQueryUsers is the component option that sets
// RoomConfig.AllowQueryUsers of new rooms (default true), named like
// Prosody's muc_room_default_* options after ejabberd's allow_query_users.
const OptDefaultAllowQueryUsers = "muc_room_default_allow_query_users"

// FieldAllowQueryUsers is the room configuration form field for
// RoomConfig.AllowQueryUsers, as ejabberd names it.
const FieldAllowQueryUsers = "allow_query_users"

// settings are the component options mod_muc reads.
type settings struct {
	name string
	// restrict is "" (anyone creates rooms), "admin" or "local".
	restrict        string
	adminsAsOwners  bool
	locking         bool
	lockTimeout     time.Duration
	tombstones      bool
	tombstoneExpiry time.Duration
	maxHistory      int
	allowPublic     bool
	allowPersistent bool
	occupantID      bool
	defaults        RoomConfig
}

// readSettings decodes the component's options; wrong types are errors
// with their file:line.
func readSettings(cfg *config.Config, sec *config.Component) (settings, error) {
	r := optReader{cfg: cfg, sec: sec}
	st := settings{
		name:            r.str("name", "Chatrooms"),
		adminsAsOwners:  r.boolean("component_admins_as_room_owners", false),
		locking:         r.boolean("muc_room_locking", true),
		lockTimeout:     r.seconds("muc_room_lock_timeout", 300*time.Second),
		tombstones:      r.boolean("muc_tombstones", true),
		tombstoneExpiry: r.seconds("muc_tombstone_expiry", 31*24*time.Hour),
		maxHistory:      r.integer("max_history_messages", math.MaxInt),
		allowPublic:     r.boolean("muc_room_allow_public", true),
		allowPersistent: r.boolean("muc_room_allow_persistent", true),
		occupantID:      r.boolean("muc_occupant_id", true),
	}
	if o, ok := cfg.Get(sec, "restrict_room_creation"); ok {
		switch v := o.Value.(type) {
		case bool:
			if v {
				st.restrict = "admin"
			}
		case string:
			switch v {
			case "admin", "local":
				st.restrict = v
			default:
				r.errs = append(r.errs, fmt.Errorf("%s: restrict_room_creation: want true, false, \"admin\" or \"local\", got %q", o.Pos, v))
			}
		default:
			r.errs = append(r.errs, fmt.Errorf("%s: restrict_room_creation: want a boolean or a string", o.Pos))
		}
	}
	d := defaultRoomConfig()
	d.Hidden = !r.boolean("muc_room_default_public", false)
	d.Persistent = r.boolean("muc_room_default_persistent", false)
	d.MembersOnly = r.boolean("muc_room_default_members_only", false)
	d.AllowMemberInvites = r.boolean("muc_room_default_allow_member_invites", false)
	d.Moderated = r.boolean("muc_room_default_moderated", false)
	if r.boolean("muc_room_default_public_jids", false) {
		d.Whois = WhoisAnyone
	}
	d.ChangeSubject = r.boolean("muc_room_default_change_subject", false)
	d.HistoryLength = r.integer("muc_room_default_history_length", d.HistoryLength)
	d.Language = r.str("muc_room_default_language", "")
	d.AllowQueryUsers = r.boolean(OptDefaultAllowQueryUsers, true)
	if o, ok := cfg.Get(sec, "muc_room_default_presence_broadcast"); ok {
		roles, err := o.AsStrings()
		if err != nil {
			r.errs = append(r.errs, fmt.Errorf("%s: muc_room_default_presence_broadcast: %w", o.Pos, err))
		} else {
			d.PresenceBroadcast = nil
			for _, s := range roles {
				role, ok := ParseRole(s)
				if !ok {
					r.errs = append(r.errs, fmt.Errorf("%s: muc_room_default_presence_broadcast: unknown role %q", o.Pos, s))
					continue
				}
				d.PresenceBroadcast = append(d.PresenceBroadcast, role)
			}
		}
	}
	st.defaults = d
	if len(r.errs) > 0 {
		return st, fmt.Errorf("muc: component %s: %w", sec.Name, errors.Join(r.errs...))
	}
	return st, nil
}

type optReader struct {
	cfg  *config.Config
	sec  *config.Component
	errs []error
}

func (r *optReader) str(key, def string) string {
	o, ok := r.cfg.Get(r.sec, key)
	if !ok {
		return def
	}
	v, err := o.AsString()
	if err != nil {
		r.errs = append(r.errs, err)
		return def
	}
	return v
}

func (r *optReader) boolean(key string, def bool) bool {
	o, ok := r.cfg.Get(r.sec, key)
	if !ok {
		return def
	}
	v, err := o.AsBool()
	if err != nil {
		r.errs = append(r.errs, err)
		return def
	}
	return v
}

func (r *optReader) integer(key string, def int) int {
	o, ok := r.cfg.Get(r.sec, key)
	if !ok {
		return def
	}
	f, err := o.AsFloat()
	if err != nil {
		r.errs = append(r.errs, err)
		return def
	}
	if math.IsInf(f, 1) || f > math.MaxInt32 {
		return math.MaxInt
	}
	if f < 0 {
		return 0
	}
	return int(f)
}

func (r *optReader) seconds(key string, def time.Duration) time.Duration {
	o, ok := r.cfg.Get(r.sec, key)
	if !ok {
		return def
	}
	v, err := o.AsDuration()
	if err != nil {
		r.errs = append(r.errs, err)
		return def
	}
	return v
}
