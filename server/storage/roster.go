package storage

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strconv"
)

// RosterStore is the name of the store that holds rosters.
const RosterStore = "roster"

// RosterItem is one contact, as Prosody's rostermanager keeps it under the
// contact's bare JID.
type RosterItem struct {
	// JID is the contact's bare JID (the key in the stored table).
	JID string
	// Name is the display name; "" when unset.
	Name string
	// Subscription is "none", "to", "from" or "both"; "" is saved as "none".
	Subscription string
	// Ask is "subscribe" while an outgoing subscription request is pending.
	Ask string
	// Groups lists the contact's groups, sorted.
	Groups []string

	// extra keeps fields this type does not model (for example Prosody's
	// "approved" for pre-approved subscriptions) so a load/save cycle does
	// not lose them.
	extra Table
}

// Roster is a user's roster in Prosody's format: contacts keyed by bare JID
// plus a metadata entry under the key false holding the roster version and
// the pending incoming subscription requests.
type Roster struct {
	// Version is the roster version ([false].version), a decimal integer
	// in rosters written by Prosody; "" when unset. Prosody increments it on
	// every save; see IncrementVersion.
	Version string
	// Items are the contacts, keyed by bare JID.
	Items map[string]*RosterItem
	// Pending holds the bare JIDs with an incoming subscription request
	// awaiting the user's answer ([false].pending).
	Pending map[string]bool

	// pendingRaw keeps Prosody's stored value for each pending JID (true,
	// or the preserialised subscribe presence), written back unchanged
	// while the JID stays pending.
	pendingRaw map[string]any
	// versionRaw is the stored version value and versionLoaded its string
	// form, so an unchanged Version is written back with its original type.
	versionRaw    any
	versionLoaded string
	// metaExtra keeps unknown metadata fields, extra unknown top-level
	// entries (non-string keys other than false).
	metaExtra Table
	extra     Table
}

// NewRoster returns an empty roster.
func NewRoster() *Roster {
	return &Roster{Items: map[string]*RosterItem{}, Pending: map[string]bool{}}
}

// IncrementVersion advances a numeric Version by one (an empty or non-numeric
// version becomes "1"), as Prosody does before each save.
func (r *Roster) IncrementVersion() {
	n, err := strconv.ParseUint(r.Version, 10, 63)
	if err != nil {
		n = 0
	}
	r.Version = strconv.FormatUint(n+1, 10)
}

// LoadRoster reads user's roster on host. A missing roster yields an empty
// one. Prosody's legacy layout (pending requests under a top-level "pending"
// key) is read too.
func LoadRoster(ctx context.Context, s Store, host, user string) (*Roster, error) {
	t, err := s.Get(ctx, host, RosterStore, user)
	if err != nil {
		return nil, fmt.Errorf("storage: loading roster of %s@%s: %w", user, host, err)
	}
	return RosterFromTable(t)
}

// SaveRoster writes r as user's roster on host, replacing the stored one.
// It does not change r.Version.
func SaveRoster(ctx context.Context, s Store, host, user string, r *Roster) error {
	if err := s.Set(ctx, host, RosterStore, user, r.Table()); err != nil {
		return fmt.Errorf("storage: saving roster of %s@%s: %w", user, host, err)
	}
	return nil
}

// RosterFromTable decodes a stored roster table (nil gives an empty roster).
func RosterFromTable(t Table) (*Roster, error) {
	r := NewRoster()
	r.pendingRaw = map[string]any{}
	for k, v := range t {
		switch k := k.(type) {
		case bool:
			if k {
				r.setExtra(k, v)
				continue
			}
			meta, ok := v.(Table)
			if !ok {
				return nil, fmt.Errorf("storage: roster metadata is %T, not a table", v)
			}
			r.readMeta(meta)
		case string:
			sub, ok := v.(Table)
			if !ok {
				return nil, fmt.Errorf("storage: roster entry %q is %T, not a table", k, v)
			}
			if _, isItem := sub["subscription"].(string); k == "pending" && !isItem {
				// Legacy layout: pending requests at the top level.
				r.readPending(sub)
				continue
			}
			item, err := rosterItemFromTable(k, sub)
			if err != nil {
				return nil, err
			}
			r.Items[k] = item
		default:
			r.setExtra(k, v)
		}
	}
	return r, nil
}

func (r *Roster) setExtra(k, v any) {
	if r.extra == nil {
		r.extra = Table{}
	}
	r.extra[k] = v
}

func (r *Roster) readMeta(meta Table) {
	for k, v := range meta {
		switch k {
		case "version":
			r.versionRaw = v
			switch v := v.(type) {
			case float64:
				r.Version = formatLuaNumber(v)
			case string:
				r.Version = v
			}
			r.versionLoaded = r.Version
		case "pending":
			if p, ok := v.(Table); ok {
				r.readPending(p)
				continue
			}
			fallthrough
		default:
			if r.metaExtra == nil {
				r.metaExtra = Table{}
			}
			r.metaExtra[k] = v
		}
	}
}

func (r *Roster) readPending(p Table) {
	for k, v := range p {
		if j, ok := k.(string); ok {
			r.Pending[j] = true
			r.pendingRaw[j] = v
		}
	}
}

func rosterItemFromTable(jid string, t Table) (*RosterItem, error) {
	it := &RosterItem{JID: jid}
	for k, v := range t {
		switch k {
		case "subscription", "name", "ask":
			s, ok := v.(string)
			if !ok {
				return nil, fmt.Errorf("storage: roster entry %q: %v is %T, not a string", jid, k, v)
			}
			switch k {
			case "subscription":
				it.Subscription = s
			case "name":
				it.Name = s
			default:
				it.Ask = s
			}
		case "groups":
			g, ok := v.(Table)
			if !ok {
				return nil, fmt.Errorf("storage: roster entry %q: groups is %T, not a table", jid, v)
			}
			for name, in := range g {
				if s, ok := name.(string); ok && in == true {
					it.Groups = append(it.Groups, s)
				}
			}
			sort.Strings(it.Groups)
		default:
			if it.extra == nil {
				it.extra = Table{}
			}
			it.extra[k] = v
		}
	}
	if it.Subscription == "" {
		it.Subscription = "none"
	}
	return it, nil
}

// Table encodes r in Prosody's stored roster format.
func (r *Roster) Table() Table {
	t := Table{}
	for k, v := range r.extra {
		t[k] = v
	}
	meta := Table{}
	for k, v := range r.metaExtra {
		meta[k] = v
	}
	switch {
	case r.versionRaw != nil && r.Version == r.versionLoaded:
		meta["version"] = r.versionRaw
	case r.Version == "":
	default:
		if n, err := strconv.ParseFloat(r.Version, 64); err == nil && n == math.Trunc(n) && n >= 0 && n < 1<<53 {
			meta["version"] = n
		} else {
			meta["version"] = r.Version
		}
	}
	pending := Table{}
	for j, ok := range r.Pending {
		if !ok {
			continue
		}
		if raw, found := r.pendingRaw[j]; found && raw != nil {
			pending[j] = raw
		} else {
			pending[j] = true
		}
	}
	meta["pending"] = pending
	t[false] = meta
	for j, it := range r.Items {
		if it == nil {
			continue
		}
		e := Table{}
		for k, v := range it.extra {
			e[k] = v
		}
		sub := it.Subscription
		if sub == "" {
			sub = "none"
		}
		e["subscription"] = sub
		if it.Name != "" {
			e["name"] = it.Name
		}
		if it.Ask != "" {
			e["ask"] = it.Ask
		}
		groups := Table{}
		for _, g := range it.Groups {
			groups[g] = true
		}
		e["groups"] = groups
		t[j] = e
	}
	return t
}
