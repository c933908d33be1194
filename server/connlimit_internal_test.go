package server

import (
	"strings"
	"testing"

	"github.com/parley-xmpp/parley/config"
)

func mustLimiter(t testing.TB, cfgText string) *connLimiter {
	t.Helper()
	cfg, err := config.Parse("limits.cfg.lua", []byte(cfgText))
	if err != nil {
		t.Fatal(err)
	}
	st, err := readConnLimits(sectionView{cfg: cfg})
	if err != nil {
		t.Fatal(err)
	}
	l := &connLimiter{}
	l.apply(st)
	return l
}

// The per-IP limiter counts per address (per /64 for IPv6), exempts the
// configured ranges, and forgets an address once its last connection is
// released.
func TestConnLimiter(t *testing.T) {
	tests := []struct {
		name    string
		cfg     string
		remotes []string // acquired in order
		want    []bool
	}{
		{"default limit, loopback exempt", "", repeat("127.0.0.1:1", 150), repeatBool(true, 150)},
		{"two per address", "parley_max_connections_per_ip = 2",
			[]string{"192.0.2.1:1", "192.0.2.1:2", "192.0.2.1:3", "192.0.2.2:1"}, []bool{true, true, false, true}},
		{"bare IP and IPv4-mapped IPv6 count together", "parley_max_connections_per_ip = 2",
			[]string{"192.0.2.1", "[::ffff:192.0.2.1]:5", "192.0.2.1:9"}, []bool{true, true, false}},
		{"IPv6 counts per /64", "parley_max_connections_per_ip = 2",
			[]string{"[2001:db8:1:2::1]:1", "[2001:db8:1:2:ffff::9]:1", "[2001:db8:1:2::3]:1", "[2001:db8:1:3::1]:1"}, []bool{true, true, false, true}},
		{"exempt CIDR", "parley_max_connections_per_ip = 1\nparley_connection_limit_exempt = { \"10.0.0.0/8\" }",
			[]string{"10.1.2.3:1", "10.1.2.3:2", "127.0.0.1:1", "127.0.0.1:2"}, []bool{true, true, true, false}},
		{"zero turns the limit off", "parley_max_connections_per_ip = 0",
			repeat("192.0.2.1:1", 500), repeatBool(true, 500)},
		{"not an IP address is not limited", "parley_max_connections_per_ip = 1",
			[]string{"@", "@", "pipe"}, []bool{true, true, true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := mustLimiter(t, tc.cfg)
			var releases []func()
			for i, r := range tc.remotes {
				rel, ok := l.acquire(r)
				if ok != tc.want[i] {
					t.Fatalf("acquire #%d (%s) = %v, want %v", i, r, ok, tc.want[i])
				}
				if ok {
					releases = append(releases, rel)
				}
			}
			for _, rel := range releases {
				rel()
				rel() // a second call must not count twice
			}
			if n := l.tracked(); n != 0 {
				t.Fatalf("%d addresses still tracked after every release", n)
			}
		})
	}
}

// A released slot can be taken again, and a lowered limit applies to new
// connections while live ones are kept.
func TestConnLimiterReleaseAndApply(t *testing.T) {
	l := mustLimiter(t, "parley_max_connections_per_ip = 2")
	r1, ok1 := l.acquire("192.0.2.1:1")
	_, ok2 := l.acquire("192.0.2.1:2")
	if _, ok := l.acquire("192.0.2.1:3"); !ok1 || !ok2 || ok {
		t.Fatalf("acquire: %v %v %v, want true true false", ok1, ok2, ok)
	}
	r1()
	r3, ok := l.acquire("192.0.2.1:3")
	if !ok {
		t.Fatal("a released slot was not reusable")
	}
	l.apply(connLimitSettings{max: 1})
	r3()
	if _, ok := l.acquire("192.0.2.1:4"); ok {
		t.Fatal("lowered limit: one connection is still live, a second must be refused")
	}
}

func TestReadConnLimitsErrors(t *testing.T) {
	tests := []struct {
		name, cfg, want string
	}{
		{"string limit", `parley_max_connections_per_ip = "many"`, "limits.cfg.lua:1: parley_max_connections_per_ip: want a number"},
		{"negative limit", `parley_max_connections_per_ip = -1`, "limits.cfg.lua:1: parley_max_connections_per_ip: want a whole number"},
		{"fraction", `parley_max_connections_per_ip = 1.5`, "want a whole number"},
		{"bad exempt entry", "\nparley_connection_limit_exempt = { \"localhost\" }", `limits.cfg.lua:2: parley_connection_limit_exempt: "localhost" is not an address`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := config.Parse("limits.cfg.lua", []byte(tc.cfg))
			if err != nil {
				t.Fatal(err)
			}
			_, err = readConnLimits(sectionView{cfg: cfg})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

// The refusal is a whole stream: header, policy-violation, end.
func TestRefusalBytes(t *testing.T) {
	b := string(refusalBytes())
	for _, want := range []string{"<stream:stream", "<policy-violation xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>", connLimitText, "</stream:stream>"} {
		if !strings.Contains(b, want) {
			t.Errorf("refusal %s lacks %s", b, want)
		}
	}
}

func BenchmarkConnLimiterAcquireRelease(b *testing.B) {
	l := mustLimiter(b, "parley_max_connections_per_ip = 100")
	b.ReportAllocs()
	for b.Loop() {
		rel, ok := l.acquire("192.0.2.1:5222")
		if !ok {
			b.Fatal("refused")
		}
		rel()
	}
}

func repeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

func repeatBool(v bool, n int) []bool {
	out := make([]bool, n)
	for i := range out {
		out[i] = v
	}
	return out
}
