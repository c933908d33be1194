package jitsi_test

import (
	"slices"
	"testing"

	"github.com/parley-xmpp/parley/muc"
	"github.com/parley-xmpp/parley/muc/muctest"
	"github.com/parley-xmpp/parley/server/stanza"
)

func TestPasswordWhitelist(t *testing.T) {
	tests := []struct {
		name     string
		list     string
		from     string
		password string
		ok       bool
	}{
		{name: "listed JID without password", list: `"focus@users.example.test"`, from: muctest.User("focus"), ok: true},
		{name: "listed JID with a wrong password", list: `"focus@users.example.test"`, from: muctest.User("focus"), password: "wrong", ok: true},
		{name: "user of a listed domain", list: `"users.example.test"`, from: muctest.User("rec"), ok: true},
		{name: "SECURITY-CASES 128 unlisted user", list: `"focus@users.example.test"`, from: muctest.User("mallory"), ok: false},
		{name: "SECURITY-CASES 128 no list", list: ``, from: muctest.User("focus"), ok: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := harness(t, ``, `
    modules_enabled = { "muc_password_whitelist" }
    muc_password_whitelist = { `+tc.list+` }
    muc_room_locking = false
`)
			owner := muctest.User("owner")
			r := muctest.Room("secret")
			h.Send(owner, r+"/owner", el(stanza.NSClient, "presence").Add(el(muc.NS, "x").Add(el(muc.NS, "password").AddText("s3cret"))))
			x := el(muc.NS, "x")
			if tc.password != "" {
				x.Add(el(muc.NS, "password").AddText(tc.password))
			}
			h.Send(tc.from, r+"/guest", el(stanza.NSClient, "presence").Add(x))
			got := h.Sink.Take(tc.from)
			joined := slices.ContainsFunc(got, func(e *stanza.Element) bool { return hasStatus(e, "110") })
			if joined != tc.ok {
				t.Fatalf("joined = %v: %v", joined, got)
			}
			if !tc.ok && (len(got) != 1 || errCond(got[0]) != "not-authorized") {
				t.Fatalf("refusal: %v", got)
			}
		})
	}
}
