package server

import (
	"testing"

	"github.com/parley-xmpp/parley/config"
)

// Reload replaces the mod_limits rate new client connections take
// (c2sRate), and an invalid one is refused with the old rate kept.
func TestReloadC2SRate(t *testing.T) {
	parse := func(text string) *config.Config {
		t.Helper()
		cfg, err := config.Parse("rate.cfg.lua", []byte("storage = \"memory\"\n"+text))
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	const host = "VirtualHost \"example.com\"\n"
	srv, err := New(parse("modules_enabled = { \"limits\" }\nlimits = { c2s = { rate = \"10kb/s\", burst = \"2s\" } }\n" + host))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.cancel()
	if rl := srv.c2sRate(); rl == nil || rl.rate != 10000 || rl.burst != 20000 {
		t.Fatalf("initial rate %+v", rl)
	}
	tests := []struct {
		name        string
		cfg         string
		rate, burst float64 // 0: no throttle
		refused     bool
	}{
		{"faster", "modules_enabled = { \"limits\" }\nlimits = { c2s = { rate = \"50kb/s\", burst = \"1s\" } }\n" + host, 50000, 50000, false},
		{"invalid keeps the old", "modules_enabled = { \"limits\" }\nlimits = { c2s = { rate = \"soon\" } }\n" + host, 50000, 50000, true},
		{"module disabled", host, 0, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := srv.Reload(t.Context(), parse(tc.cfg))
			if (err != nil) != tc.refused {
				t.Fatalf("reload error %v, refused %v", err, tc.refused)
			}
			rl := srv.c2sRate()
			switch {
			case tc.rate == 0 && rl != nil:
				t.Fatalf("rate %+v, want none", rl)
			case tc.rate != 0 && (rl == nil || rl.rate != tc.rate || rl.burst != tc.burst):
				t.Fatalf("rate %+v, want %v/%v", rl, tc.rate, tc.burst)
			}
		})
	}
}
