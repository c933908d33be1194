package storage_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/parley-xmpp/parley/server/storage"
)

func TestLoadRosterFromProsodyFixture(t *testing.T) {
	s := storage.NewFileStore(copyFixture(t))
	ctx := context.Background()
	tests := []struct {
		name        string
		user        string
		wantVersion string
		wantItems   map[string]storage.RosterItem
		wantPending map[string]bool
	}{
		{
			name: "alice", user: "alice", wantVersion: "3",
			wantItems: map[string]storage.RosterItem{
				"bob@localhost":         {JID: "bob@localhost", Name: "Bob", Subscription: "both", Groups: []string{"Friends", "Work"}},
				"dave@sha256.localhost": {JID: "dave@sha256.localhost", Subscription: "none", Ask: "subscribe"},
			},
			wantPending: map[string]bool{"carol@plain.localhost": true},
		},
		{
			name: "bob with unicode and a stored subscribe stanza", user: "bob", wantVersion: "3",
			wantItems: map[string]storage.RosterItem{
				"alice@localhost": {JID: "alice@localhost", Subscription: "both"},
				"zoe@localhost":   {JID: "zoe@localhost", Name: "Zoë ☃ \"q\"", Subscription: "from", Groups: []string{"Ünïcode"}},
			},
			wantPending: map[string]bool{"dave@sha256.localhost": true},
		},
		{
			name: "missing roster is empty", user: "nobody",
			wantItems: map[string]storage.RosterItem{}, wantPending: map[string]bool{},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := storage.LoadRoster(ctx, s, "localhost", tc.user)
			if err != nil {
				t.Fatal(err)
			}
			if r.Version != tc.wantVersion {
				t.Errorf("Version = %q, want %q", r.Version, tc.wantVersion)
			}
			got := map[string]storage.RosterItem{}
			for j, it := range r.Items {
				got[j] = storage.RosterItem{JID: it.JID, Name: it.Name, Subscription: it.Subscription, Ask: it.Ask, Groups: it.Groups}
			}
			if !reflect.DeepEqual(got, tc.wantItems) {
				t.Errorf("Items = %+v\nwant %+v", got, tc.wantItems)
			}
			if !reflect.DeepEqual(r.Pending, tc.wantPending) {
				t.Errorf("Pending = %v, want %v", r.Pending, tc.wantPending)
			}
		})
	}
}

// TestRosterRoundTripKeepsProsodyData loads each fixture roster and saves it
// again: the stored table must be unchanged, including the preserialised
// subscribe presence Prosody keeps for a pending request.
func TestRosterRoundTripKeepsProsodyData(t *testing.T) {
	s := storage.NewFileStore(copyFixture(t))
	ctx := context.Background()
	for _, user := range []string{"alice", "bob"} {
		t.Run(user, func(t *testing.T) {
			before, err := s.Get(ctx, "localhost", storage.RosterStore, user)
			if err != nil {
				t.Fatal(err)
			}
			r, err := storage.LoadRoster(ctx, s, "localhost", user)
			if err != nil {
				t.Fatal(err)
			}
			if err := storage.SaveRoster(ctx, s, "localhost", user, r); err != nil {
				t.Fatal(err)
			}
			after, err := s.Get(ctx, "localhost", storage.RosterStore, user)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(before, after) {
				t.Fatalf("roster changed by load/save:\nbefore %#v\nafter  %#v", before, after)
			}
		})
	}
	stanza, _ := func() (storage.Table, error) {
		t, err := s.Get(ctx, "localhost", storage.RosterStore, "bob")
		meta, _ := t.Sub(false)
		p, _ := meta.Sub("pending")
		st, _ := p.Sub("dave@sha256.localhost")
		return st, err
	}()
	if stanza["name"] != "presence" {
		t.Fatalf("pending stanza lost: %#v", stanza)
	}
}

func TestRosterEditAndSave(t *testing.T) {
	storeKinds(t, func(t *testing.T, s storage.Store) {
		ctx := context.Background()
		r, err := storage.LoadRoster(ctx, s, "auth.meet.jitsi", "focus")
		if err != nil {
			t.Fatal(err)
		}
		r.Items["focus.meet.jitsi"] = &storage.RosterItem{JID: "focus.meet.jitsi", Subscription: "both"}
		r.Items["x@meet.jitsi"] = &storage.RosterItem{JID: "x@meet.jitsi", Name: "X", Ask: "subscribe", Groups: []string{"b", "a"}}
		r.Pending["y@meet.jitsi"] = true
		r.IncrementVersion()
		if err := storage.SaveRoster(ctx, s, "auth.meet.jitsi", "focus", r); err != nil {
			t.Fatal(err)
		}
		raw, err := s.Get(ctx, "auth.meet.jitsi", storage.RosterStore, "focus")
		if err != nil {
			t.Fatal(err)
		}
		want := storage.Table{
			false:              storage.Table{"version": float64(1), "pending": storage.Table{"y@meet.jitsi": true}},
			"focus.meet.jitsi": storage.Table{"subscription": "both", "groups": storage.Table{}},
			"x@meet.jitsi":     storage.Table{"subscription": "none", "name": "X", "ask": "subscribe", "groups": storage.Table{"a": true, "b": true}},
		}
		if !reflect.DeepEqual(raw, want) {
			t.Fatalf("stored roster:\n got %#v\nwant %#v", raw, want)
		}
		r2, err := storage.LoadRoster(ctx, s, "auth.meet.jitsi", "focus")
		if err != nil {
			t.Fatal(err)
		}
		if r2.Version != "1" || r2.Items["x@meet.jitsi"].Subscription != "none" ||
			!reflect.DeepEqual(r2.Items["x@meet.jitsi"].Groups, []string{"a", "b"}) || !r2.Pending["y@meet.jitsi"] {
			t.Fatalf("reloaded roster = %+v", r2)
		}
		// Accepting the request removes it from Pending.
		delete(r2.Pending, "y@meet.jitsi")
		r2.IncrementVersion()
		if err := storage.SaveRoster(ctx, s, "auth.meet.jitsi", "focus", r2); err != nil {
			t.Fatal(err)
		}
		r3, _ := storage.LoadRoster(ctx, s, "auth.meet.jitsi", "focus")
		if len(r3.Pending) != 0 || r3.Version != "2" {
			t.Fatalf("after accept: pending %v version %q", r3.Pending, r3.Version)
		}
	})
}

func TestRosterFromTable(t *testing.T) {
	tests := []struct {
		name        string
		in          storage.Table
		wantErr     bool
		wantPending []string
		wantItems   int
		wantVersion string
	}{
		{name: "legacy top-level pending", in: storage.Table{
			"pending": storage.Table{"a@b": true},
			"c@d":     storage.Table{"subscription": "to"},
		}, wantPending: []string{"a@b"}, wantItems: 1},
		{name: "contact called pending", in: storage.Table{
			"pending": storage.Table{"subscription": "both", "groups": storage.Table{}},
		}, wantItems: 1},
		{name: "string version", in: storage.Table{false: storage.Table{"version": "abc"}}, wantVersion: "abc"},
		{name: "metadata not a table", in: storage.Table{false: "x"}, wantErr: true},
		{name: "item not a table", in: storage.Table{"a@b": "x"}, wantErr: true},
		{name: "groups not a table", in: storage.Table{"a@b": storage.Table{"groups": "x"}}, wantErr: true},
		{name: "name not a string", in: storage.Table{"a@b": storage.Table{"name": float64(1)}}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := storage.RosterFromTable(tc.in)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("RosterFromTable succeeded: %+v", r)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Items) != tc.wantItems {
				t.Errorf("%d items, want %d", len(r.Items), tc.wantItems)
			}
			for _, j := range tc.wantPending {
				if !r.Pending[j] {
					t.Errorf("%s not pending", j)
				}
			}
			if r.Version != tc.wantVersion {
				t.Errorf("Version = %q, want %q", r.Version, tc.wantVersion)
			}
		})
	}
}

func TestRosterKeepsUnknownFields(t *testing.T) {
	in := storage.Table{
		false:      storage.Table{"version": float64(7), "pending": storage.Table{}, "custom": "m"},
		"a@b":      storage.Table{"subscription": "from", "groups": storage.Table{}, "approved": "true"},
		float64(3): "odd",
	}
	r, err := storage.RosterFromTable(in)
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Table(); !reflect.DeepEqual(got, in) {
		t.Fatalf("Table() = %#v\nwant %#v", got, in)
	}
}
