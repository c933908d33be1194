package server_test

import (
	"strings"
	"testing"

	"github.com/parley-xmpp/parley/server/servertest"
	"github.com/parley-xmpp/parley/server/stanza"
)

const limitsConfig = `
allow_unencrypted_plain_auth = true
modules_enabled = { "limits" }
limits = { c2s = { rate = "20kb/s"; burst = "1s" } }
VirtualHost "example.com"
    modules_enabled = { "limits_exception" }
    unlimited_jids = { "focus@example.com" }
`

// SECURITY-CASES 151: a throttled client loses nothing and keeps order.
func TestRateLimitLosesNothing(t *testing.T) {
	srv := servertest.Start(t, limitsConfig)
	alice, bob, bobJID := aliceAndBob(t, srv)
	// 100 messages, about 30 KB: more than the burst.
	servertest.SendChatBurst(t, alice, bob, bobJID, 100, 200)
}

// SECURITY-CASES 152: unlimited_jids may send large stanzas; others may not.
func TestUnlimitedJIDs(t *testing.T) {
	// A high rate so that only the size limit matters here.
	srv := servertest.Start(t, strings.Replace(limitsConfig, "20kb/s", "50mb/s", 1))
	srv.CreateUser("focus", "example.com", "secret")
	srv.CreateUser("alice", "example.com", "secret")
	big := `<message type='chat' id='big' to='focus@example.com'><body>` + strings.Repeat("b", 300*1024) + `</body></message>`

	focus := servertest.DialRaw(t, srv.C2SAddr)
	focus.Login("example.com", "focus", "secret", "f")
	focus.Write(big)
	focus.Write(`<iq type='get' id='p' to='example.com'><ping xmlns='urn:xmpp:ping'/></iq>`)
	for {
		el := focus.Next()
		if el.Name.Local == "iq" {
			if el.Get("type") != "result" {
				t.Fatalf("focus got %s", el)
			}
			break
		}
		if el.Name.Space == stanza.NSStream {
			t.Fatalf("focus got a stream error: %s", el)
		}
	}

	alice := servertest.DialRaw(t, srv.C2SAddr)
	alice.Login("example.com", "alice", "secret", "a")
	alice.Write(big)
	alice.ExpectStreamError("policy-violation")
}
