package jitsi

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/parley-xmpp/parley/muc"
	"github.com/parley-xmpp/parley/server"
	"github.com/parley-xmpp/parley/server/stanza"
)

// Fuzz targets of the JSON parsers of the message-driven components:
// whatever a client sends, parsing never panics and what is accepted
// satisfies the Lua module's checks and encodes back to JSON.

func FuzzRoomMetadataUpdate(f *testing.F) {
	for _, s := range []string{`{"key":"k","data":{"a":[1,2]}}`, `{"key":"k"}`, `{"key":1,"data":1}`, `[]`, `{`, `null`, `{"key":"k","data":null}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		key, data, err := parseRoomMetadataUpdate(text)
		if err != nil {
			return
		}
		if data == nil {
			t.Fatalf("accepted %q with null data (key %q)", text, key)
		}
		if _, err := json.Marshal(map[string]any{key: data}); err != nil {
			t.Fatalf("accepted %q cannot be re-encoded: %v", text, err)
		}
	})
}

func FuzzPollsCommand(f *testing.F) {
	for _, s := range []string{
		`{"type":"polls","command":"new-poll","pollId":"p","question":"q","answers":[{"name":"a"}]}`,
		`{"type":"polls","command":"answer-poll","pollId":"p","answers":[true,false]}`,
		`{"type":"polls","command":"answer-poll","pollId":"p","answers":[1]}`,
		`{"type":"polls","command":"new-poll","pollId":5,"answers":{}}`,
		`{"command":"new-poll"} trailing`, `[1]`, `"x"`, `{`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		c, err := parsePollsCommand(text)
		if err != nil {
			if c != nil {
				t.Fatalf("error %v with a command", err)
			}
			if errors.Is(err, errPollsIgnored) && len(text) >= PollPayloadLimit {
				t.Fatalf("oversized payload %d ignored instead of dropped", len(text))
			}
			return
		}
		if len(text) >= PollPayloadLimit {
			t.Fatalf("accepted a payload of %d bytes", len(text))
		}
		switch c.command {
		case "new-poll":
			if len(c.names) == 0 || len(c.votes) != 0 {
				t.Fatalf("new-poll %q: %d names, %d votes", text, len(c.names), len(c.votes))
			}
		case "answer-poll":
			if len(c.votes) == 0 || len(c.names) != 0 {
				t.Fatalf("answer-poll %q: %d names, %d votes", text, len(c.names), len(c.votes))
			}
		default:
			t.Fatalf("accepted command %q", c.command)
		}
		if _, err := json.Marshal(c.data); err != nil {
			t.Fatalf("accepted %q cannot be re-encoded: %v", text, err)
		}
	})
}

func FuzzSharedFile(f *testing.F) {
	for _, s := range []string{`{"fileId":"a","size":10}`, `{"fileId":1.5e3}`, `{"fileId":null}`, `{"fileId":{"x":[1]}}`, `[]`, `{`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		file, key, err := parseSharedFile(text)
		if err != nil {
			return
		}
		if file["fileId"] == nil || key == "" && file["fileId"] != "" {
			t.Fatalf("accepted %q with key %q", text, key)
		}
		if _, err := json.Marshal(file); err != nil {
			t.Fatalf("accepted %q cannot be re-encoded: %v", text, err)
		}
	})
}

func FuzzPollsIDKey(f *testing.F) {
	for _, s := range []string{`"a"`, `1`, `1.0`, `null`, `{"a":1}`, ``, `"\u00e9"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		k := pollsIDKey(json.RawMessage(raw))
		if len(k) < 2 || (k[:2] != "s:" && k[:2] != "j:") {
			t.Fatalf("key %q for %q", k, raw)
		}
		var s string
		if json.Unmarshal([]byte(raw), &s) == nil && k != "s:"+s {
			t.Fatalf("string id %q got key %q", s, k)
		}
	})
}

// BenchmarkRoomMetadataFilterOut measures the stanzas/out filter on the
// stanzas it lets through untouched (it runs for every stanza to every
// client session).
func BenchmarkRoomMetadataFilterOut(b *testing.B) {
	c := &RoomMetadataComponent{}
	msg := stanza.New(stanza.NSClient, "message").Set("to", "u@h/r").Set("from", "r@conference.h/n")
	msg.Add(stanza.New(stanza.NSClient, "body").AddText("hello"))
	pres := stanza.New(stanza.NSClient, "presence").Set("to", "u@h/r").Set("from", "r@conference.h/n")
	pres.Add(stanza.New(muc.NSUser, "x").Add(stanza.New(muc.NSUser, "item").Set("role", "participant")))
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		el   *stanza.Element
	}{{"message", msg}, {"presence", pres}} {
		b.Run(tc.name, func(b *testing.B) {
			ev := &server.OutStanzaEvent{Stanza: tc.el}
			b.ReportAllocs()
			for b.Loop() {
				if err := c.filterOut(ctx, ev); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkParsePollsCommand measures decoding and validating a vote.
func BenchmarkParsePollsCommand(b *testing.B) {
	text := `{"type":"polls","command":"answer-poll","pollId":"0f8a6c1e-poll","answers":[true,false,false,true]}`
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parsePollsCommand(text); err != nil {
			b.Fatal(err)
		}
	}
}
