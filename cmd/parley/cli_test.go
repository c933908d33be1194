package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"mellium.im/sasl"

	"github.com/parley-xmpp/parley/server/servertest"
	"github.com/parley-xmpp/parley/server/stanza"
)

func noEnv(string) (string, bool) { return "", false }

func runCLI(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = runWith(context.Background(), filepath.Join(t.TempDir(), "absent.cfg.lua"), args, strings.NewReader(stdin), &out, &errb, noEnv)
	return code, out.String(), errb.String()
}

// freePorts answers the PARLEY_*_PORT variables of the built-in configs
// with 0 and looks everything else up in extra.
func freePorts(extra map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		if strings.HasPrefix(k, "PARLEY_") && strings.HasSuffix(k, "_PORT") {
			return "0", true
		}
		v, ok := extra[k]
		return v, ok
	}
}

// serving runs parley in-process with args and env (no config file) until
// the test ends, failing the test unless it then exits with 0. It returns
// the loopback address of each listener kind in want, from the lines
// serve() prints.
func serving(t *testing.T, args []string, env func(string) (string, bool), want ...string) map[string]string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		code := runWith(ctx, filepath.Join(t.TempDir(), "absent.cfg.lua"), args, strings.NewReader(""), pw, t.Output(), env)
		_ = pw.Close()
		done <- code
	}()
	addrs := map[string]string{}
	sc := bufio.NewScanner(pr)
	for len(addrs) < len(want) && sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 2 || !slices.Contains(want, f[0]) {
			continue
		}
		if _, port, err := net.SplitHostPort(f[1]); err == nil {
			addrs[f[0]] = net.JoinHostPort("127.0.0.1", port)
		}
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	if len(addrs) < len(want) {
		cancel()
		t.Fatalf("parley %v printed the addresses %v, want %v (exit %d)", args, addrs, want, <-done)
	}
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("parley %v exited with %d", args, code)
		}
	})
	return addrs
}

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "prosody.cfg.lua")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestCheckConfig(t *testing.T) {
	good := writeConfig(t, "VirtualHost \"example.com\"\nComponent \"conference.example.com\" \"muc\"\n")
	code, out, errOut := runCLI(t, "", "-c", good, "check", "config")
	if code != 0 || !strings.Contains(out, "OK (1 hosts, 1 components)") {
		t.Fatalf("check config on a good file: code %d, stdout %q, stderr %q", code, out, errOut)
	}

	for _, fixture := range []string{"jitsi-example.cfg.lua", "jitsi-debian.cfg.lua", "docker/prosody.cfg.lua"} {
		path := filepath.Join("..", "..", "config", "testdata", fixture)
		if code, out, e := runCLI(t, "", "-c", path, "check", "config"); code != 0 || !strings.Contains(out, "OK") {
			t.Errorf("check config %s: code %d, %s %s", fixture, code, out, e)
		}
	}

	tests := []struct {
		name, text string
		line       string
	}{
		{"syntax error", "VirtualHost \"example.com\"\n  modules_enabled = { \"ping\"\n", ":3"},
		{"runtime error", "\n\nundefined_function()\n", ":3"},
		{"unknown auth provider", "VirtualHost \"example.com\"\n  authentication = \"nonsense\"\n", ":2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := writeConfig(t, tc.text)
			code, _, errOut := runCLI(t, "", "-c", path, "check", "config")
			if code == 0 {
				t.Fatal("a broken config passed the check")
			}
			if !strings.Contains(errOut, path+tc.line) {
				t.Fatalf("error %q does not name %s%s", errOut, path, tc.line)
			}
		})
	}
}

func TestAccountCommands(t *testing.T) {
	data := t.TempDir()
	path := writeConfig(t, "data_path = \""+data+"\"\nVirtualHost \"example.com\"\n")
	if code, _, e := runCLI(t, "", "-c", path, "register", "alice", "example.com", "pw1"); code != 0 {
		t.Fatalf("register: %s", e)
	}
	file := filepath.Join(data, "example%2ecom", "accounts", "alice.dat")
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("register wrote no Prosody account file: %v", err)
	}
	for _, field := range []string{"stored_key", "server_key", "salt", "iteration_count"} {
		if !bytes.Contains(raw, []byte(field)) {
			t.Fatalf("account file lacks %s:\n%s", field, raw)
		}
	}
	if code, _, e := runCLI(t, "new\nnew\n", "-c", path, "passwd", "alice@example.com"); code != 0 {
		t.Fatalf("passwd: %s", e)
	}
	if code, _, _ := runCLI(t, "a\nb\n", "-c", path, "passwd", "alice@example.com"); code == 0 {
		t.Fatal("passwd accepted mismatched passwords")
	}

	// The changed password logs in on a server reading the same data.
	srv := servertest.Start(t, "storage = \"internal\"\ndata_path = \""+data+"\"\nallow_unencrypted_plain_auth = true\nVirtualHost \"example.com\"\n")
	srv.Dial(t, "alice@example.com", "new", servertest.ClientOptions{Mechanisms: []sasl.Mechanism{sasl.ScramSha1}})

	if code, _, e := runCLI(t, "", "-c", path, "deluser", "alice@example.com"); code != 0 {
		t.Fatalf("deluser: %s", e)
	}
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Fatalf("deluser left %s: %v", file, err)
	}
	if code, _, _ := runCLI(t, "", "-c", path, "deluser", "alice@example.com"); code == 0 {
		t.Fatal("deleting a missing user succeeded")
	}
}

// TestDevServes: `parley dev` serves the development layout with the dev
// focus and the conference MUC.
func TestDevServes(t *testing.T) {
	c2s := serving(t, []string{"dev"}, freePorts(nil), "c2s")["c2s"]
	srv := &servertest.Server{C2SAddr: c2s}
	c := srv.Connect(t, "localhost", "", servertest.ClientOptions{Mechanisms: []sasl.Mechanism{sasl.Anonymous}})
	items := c.Request(stanza.New(stanza.NSClient, "iq").Set("type", "get").Set("to", "localhost").
		Add(stanza.New("http://jabber.org/protocol/disco#items", "query")))
	var got []string
	for _, it := range items.Child("", "query").Elements() {
		got = append(got, it.Get("jid"))
	}
	for _, want := range []string{"conference.localhost", "focus.localhost"} {
		if !slices.Contains(got, want) {
			t.Fatalf("disco#items %v lacks %s", got, want)
		}
	}
}

// TestDefaultConfigServes: with no config anywhere, parley serves the
// built-in localhost layout; an anonymous client logs in.
func TestDefaultConfigServes(t *testing.T) {
	addrs := serving(t, nil, freePorts(nil), "c2s", "http")
	c2s, httpAddr := addrs["c2s"], addrs["http"]
	srv := &servertest.Server{C2SAddr: c2s}
	c := srv.Connect(t, "localhost", "", servertest.ClientOptions{Mechanisms: []sasl.Mechanism{sasl.Anonymous}})
	if c.JID.Domainpart() != "localhost" {
		t.Fatalf("anonymous login bound %s", c.JID)
	}
	// Browsers' transports are on the HTTP port.
	for _, path := range []string{"/http-bind", "/xmpp-websocket"} {
		resp, err := http.Get("http://" + httpAddr + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %s", path, resp.Status)
		}
	}
}

// TestUserCommandsRunningServer: SECURITY-CASES 40 across processes.
// deluser and disableuser edit the store of a running server, say that it
// must be sent SIGHUP, and the recheck a reload runs closes the account's
// open sessions with not-authorized; enableuser lets the account back in.
func TestUserCommandsRunningServer(t *testing.T) {
	data := t.TempDir()
	hosts := "VirtualHost \"example.com\"\nVirtualHost \"anon.example\"\n  authentication = \"anonymous\"\n"
	path := writeConfig(t, "data_path = \""+data+"\"\n"+hosts)
	for _, u := range []string{"alice", "bob"} {
		if code, _, e := runCLI(t, "", "-c", path, "register", u, "example.com", "secret"); code != 0 {
			t.Fatalf("register %s: %s", u, e)
		}
	}
	srv := servertest.Start(t, "storage = \"internal\"\ndata_path = \""+data+"\"\nallow_unencrypted_plain_auth = true\n"+hosts)
	login := func(user string) *servertest.Raw {
		c := servertest.DialRaw(t, srv.C2SAddr)
		c.Login("example.com", user, "secret", "")
		return c
	}
	alice, bob := login("alice"), login("bob")

	tests := []struct {
		name    string
		args    []string
		out     string
		session *servertest.Raw
		text    string
	}{
		{"disableuser", []string{"disableuser", "alice@example.com"}, "Disabled alice@example.com.", alice, "Account disabled"},
		{"deluser", []string{"deluser", "BOB@example.com"}, "Deleted bob@example.com.", bob, "Account deleted"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, "", append([]string{"-c", path}, tc.args...)...)
			if code != 0 {
				t.Fatalf("%v: %d %s", tc.args, code, errOut)
			}
			if !strings.Contains(out, tc.out) || !strings.Contains(out, "SIGHUP") {
				t.Fatalf("%v printed %q, want %q and the SIGHUP hint", tc.args, out, tc.out)
			}
			// What Reload does on SIGHUP.
			if n, err := srv.RecheckAccounts(context.Background()); n != 1 || err != nil {
				t.Fatalf("RecheckAccounts = %d, %v; want 1", n, err)
			}
			for {
				el := tc.session.Next()
				if el.Name.Space == stanza.NSStream && el.Name.Local == "error" {
					if el.Child(stanza.NSStreams, "not-authorized") == nil || el.ChildText(stanza.NSStreams, "text") != tc.text {
						t.Fatalf("stream error %s, want not-authorized %q", el, tc.text)
					}
					break
				}
			}
		})
	}

	code, out, errOut := runCLI(t, "", "-c", path, "enableuser", "alice@example.com")
	if code != 0 || !strings.Contains(out, "Enabled alice@example.com.") {
		t.Fatalf("enableuser: %d %q %q", code, out, errOut)
	}
	login("alice")

	refusals := []struct {
		name string
		args []string
		want string
	}{
		{"disable a missing user", []string{"disableuser", "bob@example.com"}, "no such user"},
		{"enable a missing user", []string{"enableuser", "carol@example.com"}, "no such user"},
		{"anonymous host", []string{"disableuser", "x@anon.example"}, "has no accounts"},
		{"not a JID", []string{"disableuser", "example.com"}, "not a user@host"},
	}
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := runCLI(t, "", append([]string{"-c", path}, tc.args...)...)
			if code != 1 || !strings.Contains(errOut, tc.want) {
				t.Fatalf("%v: exit %d, %q; want 1 and %q", tc.args, code, errOut, tc.want)
			}
		})
	}
}
