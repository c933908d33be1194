package config_test

import (
	"os"
	"testing"

	"github.com/parley-xmpp/parley/config"
)

func BenchmarkLoadDocker(b *testing.B) {
	for b.Loop() {
		if _, err := config.Load("testdata/docker/prosody.cfg.lua", config.WithEnv(noEnv)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseJitsiExample(b *testing.B) {
	src, err := os.ReadFile("testdata/jitsi-example.cfg.lua")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		if _, err := config.Parse("testdata/jitsi-example.cfg.lua", src, config.WithEnv(noEnv)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLookup is an inherited typed lookup, the kind modules do when
// they start or per request if they do not cache.
func BenchmarkLookup(b *testing.B) {
	c, err := config.Load("testdata/jitsi-example.cfg.lua", config.WithEnv(noEnv))
	if err != nil {
		b.Fatal(err)
	}
	h := c.Host("auth.meet.example.test")
	for b.Loop() {
		if !c.Bool(h, "c2s_require_encryption", false) || c.String(h, "authentication", "") == "" {
			b.Fatal("wrong value")
		}
	}
}

func BenchmarkModules(b *testing.B) {
	c, err := config.Load("testdata/jitsi-example.cfg.lua", config.WithEnv(noEnv))
	if err != nil {
		b.Fatal(err)
	}
	co := c.Component("conference.meet.example.test")
	for b.Loop() {
		if len(c.Modules(co)) == 0 {
			b.Fatal("no modules")
		}
	}
}
