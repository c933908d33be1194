package websocket_test

import (
	"bufio"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/websocket"
)

// TestPipelinedMessages: several WebSocket messages arriving in one TCP
// segment are all handled, although the reader waits on the socket
// between messages (the ones after the first are already in its buffer).
func TestPipelinedMessages(t *testing.T) {
	for _, tc := range []struct {
		name string
		n    int
	}{
		{name: "two", n: 2},
		{name: "twenty", n: 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := start(t, "", websocket.Options{})
			c, err := dialRaw(strings.TrimPrefix(srv.HTTPURL, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			defer c.conn.Close()
			if _, err := c.login(); err != nil {
				t.Fatal(err)
			}
			c.r = bufio.NewReaderSize(c.conn, 1024)
			_ = c.conn.SetDeadline(time.Now().Add(10 * time.Second))
			// Every frame in one write.
			var batch []byte
			for i := range tc.n {
				batch = appendFrame(batch, fmt.Sprintf("<iq xmlns='jabber:client' type='get' id='p%d'><ping xmlns='urn:xmpp:ping'/></iq>", i))
			}
			if _, err := c.conn.Write(batch); err != nil {
				t.Fatal(err)
			}
			for i := range tc.n {
				if err := c.expect(fmt.Sprintf("id='p%d'", i)); err != nil {
					t.Fatalf("reply %d of %d: %v", i, tc.n, err)
				}
			}
		})
	}
}

// appendFrame appends a masked text frame (zero mask key) of a short
// message.
func appendFrame(b []byte, s string) []byte {
	if len(s) >= 126 {
		panic("appendFrame: message too long")
	}
	b = append(b, 0x81, 0x80|byte(len(s)), 0, 0, 0, 0)
	return append(b, s...)
}
