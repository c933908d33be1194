package websocket_test

import (
	"bufio"
	"encoding/binary"
	"errors"
	"flag"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server"
	"github.com/parley-xmpp/parley/server/httpx/transporttest"
	"github.com/parley-xmpp/parley/server/servertest"
	"github.com/parley-xmpp/parley/server/stanza"
	"github.com/parley-xmpp/parley/server/websocket"
)

// wsUpgrade is a fixed RFC 6455 opening handshake offering xmpp.
const wsUpgrade = "GET /xmpp-websocket HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: xmpp\r\n\r\n"

// fuzzFrames turns fuzz input into WebSocket frames, so that the fuzzer
// controls headers (FIN, RSV, opcode, mask bit, lengths) but payloads are
// masked as clients must: each frame is a header byte, a length byte (its
// top bit is the mask bit; 126 and 127 take 2 or 8 more length bytes from
// the input) and then up to that many payload bytes.
func fuzzFrames(data []byte) []byte {
	var out []byte
	key := [4]byte{0x37, 0xfa, 0x21, 0x3d}
	for len(data) >= 2 {
		h0, h1 := data[0], data[1]
		data = data[2:]
		out = append(out, h0, h1)
		n := uint64(h1 & 0x7f)
		switch n {
		case 126:
			if len(data) < 2 {
				return append(out, data...)
			}
			n = uint64(binary.BigEndian.Uint16(data))
			out, data = append(out, data[:2]...), data[2:]
		case 127:
			if len(data) < 8 {
				return append(out, data...)
			}
			n = binary.BigEndian.Uint64(data)
			out, data = append(out, data[:8]...), data[8:]
		}
		masked := h1&0x80 != 0
		if masked {
			out = append(out, key[:]...)
		}
		take := int(min(n, uint64(len(data))))
		for i, b := range data[:take] {
			if masked {
				b ^= key[i%4]
			}
			out = append(out, b)
		}
		data = data[take:]
	}
	return out
}

// frame builds one masked client frame for the seed corpus.
func frame(op byte, fin bool, payload string) []byte {
	h0 := op
	if fin {
		h0 |= 0x80
	}
	var b []byte
	switch n := len(payload); {
	case n < 126:
		b = []byte{h0, 0x80 | byte(n)}
	default:
		b = []byte{h0, 0x80 | 126, byte(n >> 8), byte(n)}
	}
	return append(b, payload...)
}

func frames(fs ...[]byte) []byte {
	var out []byte
	for _, f := range fs {
		out = append(out, f...)
	}
	return out
}

// FuzzFrames drives the WebSocket transport with arbitrary frames after a
// real upgrade: WebSocket framing (gorilla's decoder with our handling of
// text, binary, fragmented, control and close frames) and the RFC 7395
// <open/>, <close/> and stanza parsing behind it (SECURITY-CASES #63-#73).
// The server must not panic, every text message it sends must be one
// well-formed element (the round-trip oracle: it parses, and re-serialises
// to something that parses to the same element), and it must let go of
// the connection once the client has stopped writing.
func FuzzFrames(f *testing.F) {
	open := "<open xmlns='" + stanza.NSFraming + "' to='anon.example' version='1.0'/>"
	auth := "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='ANONYMOUS'/>"
	bind := "<iq xmlns='jabber:client' type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>"
	msg := "<message xmlns='jabber:client' to='x@anon.example'><body>hi</body></message>"
	closeEl := "<close xmlns='" + stanza.NSFraming + "'/>"
	f.Add(frames(frame(1, true, open)))
	f.Add(frames(frame(1, true, open), frame(1, true, auth), frame(1, true, open), frame(1, true, bind), frame(1, true, msg), frame(1, true, closeEl), frame(8, true, "\x03\xe8")))
	f.Add(frames(frame(1, false, open[:10]), frame(0, true, open[10:])))                                   // fragmented (#64)
	f.Add(frames(frame(2, true, open)))                                                                    // binary (#63)
	f.Add(frames(frame(1|0x40, true, open)))                                                               // RSV1 (#65)
	f.Add(frames(frame(3, true, open)))                                                                    // reserved opcode (#65)
	f.Add(frames(frame(9, true, strings.Repeat("p", 126))))                                                // control frame > 125 (#65)
	f.Add(frames(frame(8, true, "\x03")))                                                                  // 1-byte close (#66)
	f.Add(frames(frame(8, true, "\x03\xec")))                                                              // reserved close code (#66)
	f.Add(frames(frame(1, true, "  hello")))                                                               // not XML (#67)
	f.Add([]byte{0x81, 0x05, 'h', 'e', 'l', 'l', 'o'})                                                     // unmasked (#68)
	f.Add(frames(frame(1, true, open), frame(1, true, "<message>"+strings.Repeat("x", 300)+"</message>"))) // (#69)
	f.Add(frames(frame(1, true, "<!DOCTYPE open [<!ENTITY a 'b'>]>"+open)))                                // (#71)
	f.Add(frames(frame(1, true, "<stream:stream xmlns:stream='"+stanza.NSStream+"' to='anon.example'/>"))) // (#72)
	f.Add(frames(frame(9, true, "ping"), frame(10, true, "pong")))                                         // (#74)
	f.Add(frames(frame(1, true, open), frame(1, false, "<pre"), frame(0, false, "sence xmlns='jabber:client'"), frame(0, true, "/>")))

	var opts []servertest.Option
	if fl := flag.Lookup("test.fuzz"); fl != nil && fl.Value.String() != "" {
		// While fuzzing, the fuzzing engine's own goroutines start after
		// the server's baseline; the leak check applies to seed runs.
		opts = append(opts, servertest.WithoutLeakCheck())
	}
	srv := startOpts(f, "c2s_stanza_size_limit = 4096\n", websocket.Options{AuthTimeout: 5 * time.Second}, opts...)
	addr := strings.TrimPrefix(srv.HTTPURL, "http://")
	f.Fuzz(func(t *testing.T, data []byte) {
		conn, err := net.DialTimeout("tcp", addr, servertest.Wait)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(servertest.Wait))
		br := bufio.NewReader(conn)
		if _, err := io.WriteString(conn, wsUpgrade); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("upgrade response: %v", err)
		}
		if resp.StatusCode != http.StatusSwitchingProtocols {
			t.Fatalf("upgrade: status %d", resp.StatusCode)
		}
		if _, err := conn.Write(fuzzFrames(data)); err != nil && !isConnReset(err) {
			t.Fatalf("write: %v", err)
		}
		if tc, ok := conn.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		for {
			op, payload, err := readServerFrame(br)
			if err != nil {
				if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || isConnReset(err) {
					return
				}
				t.Fatalf("reading the server's frames: %v", err)
			}
			if op != 1 {
				continue
			}
			el, err := stanza.Parse(payload, stanza.Limits{MaxStanza: 1 << 20})
			if err != nil {
				t.Fatalf("server sent a message that does not parse: %v: %q", err, payload)
			}
			back, err := stanza.Parse(stanza.Append(nil, el), stanza.Limits{MaxStanza: 1 << 20})
			if err != nil || back.String() != el.String() {
				t.Fatalf("server message does not round-trip: %v: %q", err, payload)
			}
		}
	})
}

// startOpts is start with servertest options.
func startOpts(t testing.TB, global string, o websocket.Options, opts ...servertest.Option) *env {
	t.Helper()
	e := &env{params: transporttest.NewParamsModule()}
	mods := server.WithModules(websocket.New(o), e.params)
	e.Server = servertest.Start(t, global+baseConfig, append([]servertest.Option{servertest.WithServerOptions(mods)}, opts...)...)
	return e
}

// readServerFrame reads one unmasked server frame.
func readServerFrame(r *bufio.Reader) (op byte, payload []byte, err error) {
	var h [2]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, nil, err
	}
	if h[1]&0x80 != 0 {
		return 0, nil, errors.New("server frame is masked")
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return 0, nil, err
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return 0, nil, err
		}
		n = binary.BigEndian.Uint64(b[:])
	}
	if n > 1<<20 {
		return 0, nil, errors.New("server frame over 1 MiB")
	}
	payload = make([]byte, n)
	if _, err := io.ReadFull(r, payload); err != nil {
		return 0, nil, err
	}
	return h[0] & 0x0f, payload, nil
}

func isConnReset(err error) bool {
	var oe *net.OpError
	return errors.As(err, &oe) && !oe.Timeout()
}
