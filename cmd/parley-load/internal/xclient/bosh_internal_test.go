package xclient

import (
	"strings"
	"testing"
)

// TestBOSHResponsesInOrder feeds responses out of rid order: children
// must come out in request order (XEP-0124 §9.1), whatever order the
// HTTP answers arrive in.
func TestBOSHResponsesInOrder(t *testing.T) {
	c := newBOSH("http://127.0.0.1:1/http-bind", "anon.test", nil)
	c.nextRID = 10
	body := func(names ...string) []byte {
		var b strings.Builder
		b.WriteString("<body xmlns='http://jabber.org/protocol/httpbind'>")
		for _, n := range names {
			b.WriteString("<" + n + "/>")
		}
		b.WriteString("</body>")
		return []byte(b.String())
	}
	steps := []struct {
		name string
		rid  int64
		body []byte
		want string // the queue after the step
	}{
		{"overtaking answer waits", 12, body("c"), ""},
		{"next answer releases", 10, body("a1", "a2"), "a1 a2"},
		{"gap filled releases the rest", 11, body("b"), "a1 a2 b c"},
		{"empty answer advances", 13, []byte("<body xmlns='http://jabber.org/protocol/httpbind'/>"), "a1 a2 b c"},
		{"then the following one", 14, body("d"), "a1 a2 b c d"},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			c.mu.Lock()
			err := c.inOrder(st.rid, st.body)
			var got []string
			for _, el := range c.queue {
				got = append(got, strings.Trim(string(el), "</>"))
			}
			c.mu.Unlock()
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(got, " ") != st.want {
				t.Errorf("queue = %v, want %s", got, st.want)
			}
		})
	}
	if len(c.early) != 0 || c.nextRID != 15 {
		t.Errorf("early %d, next rid %d", len(c.early), c.nextRID)
	}
}
