package websocket

import (
	"net"
	"sync"
)

// batchConn is the connection gorilla writes to. Every WebSocket message
// gorilla writes is one write(2) of its own; while the session's writer
// holds a batch (the frames one Take returned), batchConn collects them and
// writes them together at release, so a stanza and the XEP-0198 <r/>
// after it, or a burst of broadcasts, cost one system call. Outside a
// batch (control frames from the reader: pongs, close) writes go straight
// through.
type batchConn struct {
	net.Conn
	pool *sync.Pool // *[]byte batch buffers, shared by the module's connections

	mu   sync.Mutex
	held bool
	buf  *[]byte // taken from pool while a held batch has bytes
}

// Write implements net.Conn.
func (b *batchConn) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.held {
		return b.Conn.Write(p)
	}
	if b.buf == nil {
		b.buf, _ = b.pool.Get().(*[]byte)
		if b.buf == nil {
			b.buf = new([]byte)
		}
	}
	*b.buf = append(*b.buf, p...)
	return len(p), nil
}

// hold starts collecting writes.
func (b *batchConn) hold() {
	b.mu.Lock()
	b.held = true
	b.mu.Unlock()
}

// release writes what was collected in one write and stops collecting.
// The buffer goes back to the pool, so an idle connection holds none.
func (b *batchConn) release() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.held = false
	if b.buf == nil {
		return nil
	}
	_, err := b.Conn.Write(*b.buf)
	if cap(*b.buf) <= maxPooledBatch {
		*b.buf = (*b.buf)[:0]
		b.pool.Put(b.buf)
	}
	b.buf = nil
	return err
}

// maxPooledBatch bounds the batch buffers kept for reuse.
const maxPooledBatch = 64 << 10
