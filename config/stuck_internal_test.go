package config

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestStuckLibraryCallIsAbandoned: a pattern match with heavy backtracking
// does not check the context, so evaluation gives up on it after the grace
// period instead of hanging (SECURITY: a config must not hang the process).
func TestStuckLibraryCallIsAbandoned(t *testing.T) {
	s := newSettings([]LoadOption{WithTimeout(20 * time.Millisecond)})
	s.stuckGrace = 10 * time.Millisecond
	src := []byte("x = 1\ny = Lua.string.find(Lua.string.rep(\"a\", 80), \".-.-.-b\")\n")
	_, err := evaluate("stuck.cfg.lua", src, s)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "abandoned") {
		t.Fatalf("err = %v, want an abandoned deadline error", err)
	}
}
