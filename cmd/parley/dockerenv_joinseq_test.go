package main

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/auth/jwt"
	"github.com/parley-xmpp/parley/jitsi/jitsitest"
)

// dockerJoinEnv is a stock docker-jitsi-meet environment with token auth,
// recording and transcription on, listening on free ports.
func dockerJoinEnv(dir string, kv ...string) map[string]string {
	base := with(stockEnv(), "ENABLE_AUTH", "1", "AUTH_TYPE", "jwt", "JWT_APP_ID", "jitsitest-app", "JWT_APP_SECRET", "jitsitest-secret",
		"ENABLE_RECORDING", "1", "ENABLE_TRANSCRIPTIONS", "1", "MAX_PARTICIPANTS", "1",
		"XMPP_PORT", "0", "PROSODY_HTTP_PORT", "0", "ENABLE_IPV6", "0", "LOG_LEVEL", "warn",
		"PROSODY_ENABLE_METRICS", "1", "PROSODY_METRICS_ALLOWED_CIDR", "127.0.0.0/8",
		"PARLEY_DATA_PATH", filepath.Join(dir, "data"), "PARLEY_CERTS_DIR", filepath.Join(dir, "certs"))
	return with(base, kv...)
}

// serveCLI runs `parley` (no arguments, no config file) with env exactly
// as the container starts it, until the test ends, and returns the c2s
// address and the HTTP base URL it printed.
func serveCLI(t *testing.T, env map[string]string) (c2s, httpURL string) {
	t.Helper()
	addrs := serving(t, nil, envOf(env), "c2s", "http")
	return addrs["c2s"], "http://" + addrs["http"]
}

func mintRoomToken(room string) (string, error) {
	return jwt.Mint(map[string]any{"iss": "jitsitest-app", "aud": "jitsi", "sub": "meet.jitsi", "room": room,
		"exp": time.Now().Add(time.Hour), "context": map[string]any{"user": map[string]any{"name": "Tester", "id": "u1"}}},
		jwt.MintOptions{Algorithm: "HS256", Key: []byte("jitsitest-secret")})
}

// TestDockerEnvJoinSequence is issue 6's "Done when": starting with only
// docker-jitsi-meet variables (token auth on) through the CLI's own path
// (runWith -> serve: rendered config, generated certificates, service
// accounts) gives a deployment where the P0 join sequence of JITSI.md §7
// runs end to end (STARTTLS with the generated self-signed certificates,
// unverified as Docker's jicofo and jvb do; the web client's token in the
// WebSocket URL).
func TestDockerEnvJoinSequence(t *testing.T) {
	c2s, httpURL := serveCLI(t, dockerJoinEnv(t.TempDir()))
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	d := jitsitest.Deployment{C2SAddr: c2s, HTTPURL: httpURL, Domain: "meet.jitsi", AuthDomain: "auth.meet.jitsi",
		MUC: "muc.meet.jitsi", InternalMUC: "internal-muc.meet.jitsi", Focus: "focus.meet.jitsi",
		FocusPassword: "jicofo-pw", JVBPassword: "jvb-pw", TLS: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // as Docker's jicofo/jvb
		Token: mintRoomToken}
	seq, err := jitsitest.RunJoinSequence(ctx, d)
	defer func() { _ = seq.Close() }()
	if err != nil {
		t.Fatal(err)
	}

	t.Run("token mismatch refused", func(t *testing.T) {
		// JITSI.md §2 "Token check at MUC join" / §4.5: a token for another
		// room cannot join this one.
		tok, err := mintRoomToken("otherroom")
		if err != nil {
			t.Fatal(err)
		}
		web, err := jitsitest.DialWeb(ctx, jitsitest.WebConfig{BaseURL: httpURL, Domain: "meet.jitsi", Room: "otherroom", Token: tok})
		if err != nil {
			t.Fatal(err)
		}
		defer web.Close()
		_, err = web.JoinRoom(ctx, seq.Room)
		var pe *jitsitest.PresenceError
		if !errors.As(err, &pe) || pe.Condition != "not-allowed" || pe.Text != "Room and token mismatched" {
			t.Fatalf("join with another room's token: %v", err)
		}
	})

	t.Run("no token refused", func(t *testing.T) {
		// JITSI.md §2 "Token auth": SASL ANONYMOUS without a token fails
		// (allow_empty_token false).
		_, err := jitsitest.DialWeb(ctx, jitsitest.WebConfig{BaseURL: httpURL, Domain: "meet.jitsi", Room: "jointest"})
		var ae *jitsitest.AuthError
		if !errors.As(err, &ae) || ae.Condition != "not-allowed" {
			t.Fatalf("login without token: %v, want a not-allowed SASL failure", err)
		}
	})

	t.Run("jibri and jigasi", func(t *testing.T) {
		checkJibriJigasi(ctx, t, c2s, seq)
	})

	t.Run("metrics", func(t *testing.T) {
		checkMetrics(ctx, t, httpURL)
	})
}

// checkJibriJigasi covers JITSI.md §2 P2 "Jibri / Jigasi" as far as the
// server is concerned (docker jicofo.conf brewery JIDs and trusted
// domains; the recorder vhost): the jibri and jigasi accounts (admins)
// create and join jibribrewery/jigasibrewery on the internal MUC with
// their status presence, the focus sees it; the recorder logs in on the
// hidden domain (XMPP_HIDDEN_DOMAIN) and enters the conference without a
// token (no token verification applies to it: no token on its session,
// domain verification off), past the participant limit
// (muc_access_whitelist) and past the room password
// (muc_password_whitelist), both listing recorder@hidden with
// ENABLE_RECORDING.
func checkJibriJigasi(ctx context.Context, t *testing.T, c2s string, seq *jitsitest.Sequence) {
	skip := &tls.Config{InsecureSkipVerify: true} //nolint:gosec // as Docker's jibri/jigasi
	jibriBrewery, jigasiBrewery := "jibribrewery@internal-muc.meet.jitsi", "jigasibrewery@internal-muc.meet.jitsi"
	jibri, err := jitsitest.StartMember(ctx, c2s, jitsitest.MemberConfig{Domain: "auth.meet.jitsi", User: "jibri", Password: "jibri-pw",
		Brewery: jibriBrewery, Nick: "jibri-1", Status: jitsitest.JibriStatus("idle"), TLS: skip})
	if err != nil {
		t.Fatal(err)
	}
	defer jibri.Close()
	jigasi, err := jitsitest.StartMember(ctx, c2s, jitsitest.MemberConfig{Domain: "auth.meet.jitsi", User: "jigasi", Password: "jigasi-pw",
		Brewery: jigasiBrewery, Nick: "jigasi-1", Status: jitsitest.JigasiStats(), TLS: skip})
	if err != nil {
		t.Fatal(err)
	}
	defer jigasi.Close()
	for _, b := range []string{jibriBrewery, jigasiBrewery} {
		if _, err := seq.Jicofo.Join(ctx, b, jitsitest.FocusNick); err != nil {
			t.Fatalf("focus joining %s: %v", b, err)
		}
	}
	if err := seq.Jicofo.Wait(ctx, "jibri and jigasi presence", func(v jitsitest.View) bool {
		j := v.Presence(jibriBrewery + "/jibri-1")
		g := v.Presence(jigasiBrewery + "/jigasi-1")
		return j != nil && j.Child(jitsitest.NSJibri, "jibri-status") != nil &&
			g != nil && jitsitest.ParseStats(g.Child(jitsitest.NSColibri, "stats"))["supports_sip"] == "true"
	}); err != nil {
		t.Fatal(err)
	}

	// MAX_PARTICIPANTS=1: the room is full for a second participant
	// (muc_max_occupants, JITSI.md §2 P1 row) ...
	tok, err := mintRoomToken("jointest")
	if err != nil {
		t.Fatal(err)
	}
	second, err := jitsitest.DialWeb(ctx, jitsitest.WebConfig{BaseURL: seq.Web.BaseURL(), Domain: "meet.jitsi", Room: "jointest", Token: tok})
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	_, err = second.JoinRoom(ctx, seq.Room)
	var pe *jitsitest.PresenceError
	if !errors.As(err, &pe) || pe.Condition != "service-unavailable" {
		t.Fatalf("second participant in a full room: %v, want service-unavailable", err)
	}
	// ... and locked by the moderator; the recorder (muc_access_whitelist
	// and muc_password_whitelist) still gets in.
	if _, err := seq.Web.Configure(ctx, seq.Room, map[string]string{"muc#roomconfig_roomsecret": "s3cret",
		"muc#roomconfig_passwordprotectedroom": "1"}); err != nil {
		t.Fatal(err)
	}
	rc, err := jitsitest.Dial(ctx, c2s, jitsitest.Config{Domain: "hidden.meet.jitsi", User: "recorder", Password: "recorder-pw",
		Resource: "jibri-rec", TLS: skip, StreamManagement: true})
	if err != nil {
		t.Fatal(err)
	}
	recorder := jitsitest.NewPeer(rc, nil)
	defer recorder.Close()
	self, err := recorder.Join(ctx, seq.Room, "recorder1")
	if err != nil {
		t.Fatalf("recorder joining the locked conference: %v", err)
	}
	if it := jitsitest.ItemOf(self); it.Role == "" || it.JID != recorder.JID() {
		t.Errorf("recorder self item %+v", it)
	}
	// The focus sees the recorder with its real JID on the hidden domain
	// (what jicofo's trusted-domains check reads).
	if err := seq.Jicofo.Wait(ctx, "recorder in the room", func(v jitsitest.View) bool {
		return strings.HasPrefix(jitsitest.ItemOf(v.Presence(seq.Room+"/recorder1")).JID, "recorder@hidden.meet.jitsi/")
	}); err != nil {
		t.Fatal(err)
	}
}

// checkMetrics scrapes /metrics (PROSODY_ENABLE_METRICS, allowed from
// loopback by PROSODY_METRICS_ALLOWED_CIDR) after the join sequence and a
// failed login, and checks the families issue 6 asks for: sessions and
// connections by transport, rooms and occupants, stanzas in/out, auth
// failures, closes by reason, hook latency.
func checkMetrics(ctx context.Context, t *testing.T, httpURL string) {
	bad, err := jwt.Mint(map[string]any{"iss": "jitsitest-app", "aud": "jitsi", "sub": "meet.jitsi", "room": "jointest",
		"exp": time.Now().Add(time.Hour)}, jwt.MintOptions{Algorithm: "HS256", Key: []byte("not-the-secret")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := jitsitest.DialWeb(ctx, jitsitest.WebConfig{BaseURL: httpURL, Domain: "meet.jitsi", Room: "jointest", Token: bad}); err == nil {
		t.Fatal("login with a forged token succeeded")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, httpURL+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d %v", resp.StatusCode, err)
	}
	text := string(body)
	for _, want := range []string{
		`parley_c2s_connections_total{transport="c2s"}`,
		`parley_c2s_connections_total{transport="websocket"}`,
		`parley_c2s_sessions `,
		`parley_auth_failures_total{condition="not-allowed",reason="bad-signature"}`,
		`parley_c2s_closes_total{reason=`,
		`parley_muc_rooms{component="muc.meet.jitsi"} 1`,
		`parley_muc_joins_total{component="internal-muc.meet.jitsi"}`,
		`parley_router_stanzas_total{kind="iq"}`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if t.Failed() {
		for _, l := range strings.Split(text, "\n") {
			if strings.HasPrefix(l, "parley_") && !strings.Contains(l, "_bucket") {
				t.Log(l)
			}
		}
	}
}
