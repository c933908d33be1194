package websocket

import (
	"net"
	"sync"
	"testing"
)

// recordConn records each Write it gets.
type recordConn struct {
	net.Conn
	writes []string
}

func (r *recordConn) Write(p []byte) (int, error) {
	r.writes = append(r.writes, string(p))
	return len(p), nil
}

// TestBatchConn: writes made while a batch is held reach the connection
// as one write at release; other writes go straight through.
func TestBatchConn(t *testing.T) {
	tests := []struct {
		name string
		run  func(b *batchConn)
		want []string
	}{
		{name: "not held", run: func(b *batchConn) {
			_, _ = b.Write([]byte("a"))
			_, _ = b.Write([]byte("b"))
		}, want: []string{"a", "b"}},
		{name: "held batch", run: func(b *batchConn) {
			b.hold()
			_, _ = b.Write([]byte("a"))
			_, _ = b.Write([]byte("bc"))
			if err := b.release(); err != nil {
				t.Fatal(err)
			}
			_, _ = b.Write([]byte("d"))
		}, want: []string{"abc", "d"}},
		{name: "empty batch writes nothing", run: func(b *batchConn) {
			b.hold()
			_ = b.release()
		}, want: nil},
		{name: "two batches reuse the buffer", run: func(b *batchConn) {
			for _, s := range []string{"xy", "z"} {
				b.hold()
				_, _ = b.Write([]byte(s))
				_ = b.release()
			}
		}, want: []string{"xy", "z"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rc := &recordConn{}
			b := &batchConn{Conn: rc, pool: &sync.Pool{}}
			tc.run(b)
			if len(rc.writes) != len(tc.want) {
				t.Fatalf("writes %q, want %q", rc.writes, tc.want)
			}
			for i := range tc.want {
				if rc.writes[i] != tc.want[i] {
					t.Fatalf("writes %q, want %q", rc.writes, tc.want)
				}
			}
			if b.buf != nil {
				t.Fatal("a buffer is kept after release")
			}
		})
	}
}
