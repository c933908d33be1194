package hook_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/hook"
)

type event struct{ trace []string }

func record(name string) hook.Handler[event] {
	return func(_ context.Context, ev *event) error {
		ev.trace = append(ev.trace, name)
		return nil
	}
}

func TestChainOrder(t *testing.T) {
	c := hook.NewChain[event]("muc-occupant-pre-join")
	c.On(-1000, "tracking", record("tracking"))
	c.On(99, "token_verification", record("token"))
	c.On(100, "wildcard", record("wildcard"))
	c.On(99, "second99", record("second99"))
	var ev event
	if err := c.Fire(context.Background(), &ev); err != nil {
		t.Fatal(err)
	}
	want := []string{"wildcard", "token", "second99", "tracking"}
	if !slices.Equal(ev.trace, want) {
		t.Fatalf("order = %v, want %v", ev.trace, want)
	}
	regs := c.Handlers()
	if regs[0].Owner != "wildcard" || regs[3].Priority != -1000 {
		t.Fatalf("Handlers() = %+v", regs)
	}
}

func TestChainVetoAndOff(t *testing.T) {
	c := hook.NewChain[event]("x")
	deny := errors.New("denied")
	off := c.On(10, "veto", func(context.Context, *event) error { return deny })
	c.On(0, "after", record("after"))
	var ev event
	if err := c.Fire(context.Background(), &ev); !errors.Is(err, deny) {
		t.Fatalf("Fire = %v, want the veto", err)
	}
	if len(ev.trace) != 0 {
		t.Fatalf("handler after a veto ran: %v", ev.trace)
	}
	off()
	off() // idempotent
	ev = event{}
	if err := c.Fire(context.Background(), &ev); err != nil || !slices.Equal(ev.trace, []string{"after"}) {
		t.Fatalf("after off: err=%v trace=%v", err, ev.trace)
	}
	if c.Len() != 1 {
		t.Fatalf("Len = %d", c.Len())
	}
}

func TestChainRegisterDuringFire(t *testing.T) {
	c := hook.NewChain[event]("x")
	c.On(0, "adder", func(_ context.Context, ev *event) error {
		c.On(-1, "late", record("late"))
		return nil
	})
	var ev event
	if err := c.Fire(context.Background(), &ev); err != nil {
		t.Fatal(err)
	}
	if len(ev.trace) != 0 {
		t.Fatalf("handler added during Fire ran in the same Fire: %v", ev.trace)
	}
	if c.Len() != 2 {
		t.Fatalf("Len = %d, want 2", c.Len())
	}
}

func BenchmarkFire(b *testing.B) {
	c := hook.NewChain[event]("x")
	for i := range 5 {
		c.On(i, "m", func(context.Context, *event) error { return nil })
	}
	ctx := context.Background()
	var ev event
	for b.Loop() {
		_ = c.Fire(ctx, &ev)
	}
}

func TestObserve(t *testing.T) {
	c := hook.NewChain[event]("muc-occupant-joined")
	var seen []string
	c.Observe(func(name string, d time.Duration) {
		if d < 0 {
			t.Errorf("negative duration %v", d)
		}
		seen = append(seen, name)
	})
	_ = c.Fire(context.Background(), &event{}) // no handlers: not observed
	c.On(0, "m", func(context.Context, *event) error { return hook.ErrStop })
	if err := c.Fire(context.Background(), &event{}); !errors.Is(err, hook.ErrStop) {
		t.Fatalf("Fire = %v", err)
	}
	c.Observe(nil)
	_ = c.Fire(context.Background(), &event{})
	if !slices.Equal(seen, []string{"muc-occupant-joined"}) {
		t.Fatalf("observed %v, want one fire", seen)
	}
}
