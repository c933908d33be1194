package bosh_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"mellium.im/sasl"

	"github.com/parley-xmpp/parley/bosh"
	"github.com/parley-xmpp/parley/server/stanza"
)

// BenchmarkPendingStanza measures one BOSH round trip over real HTTP when
// a stanza is already waiting in the session: route a message to a logged
// in BOSH user, then post the next (empty) request and read the response
// that carries it. Sub-benchmarks add idle BOSH sessions around it.
func BenchmarkPendingStanza(b *testing.B) {
	for _, idle := range []int{0, 5000} {
		b.Run(fmt.Sprintf("idle=%d", idle), func(b *testing.B) {
			srv := startWith(b, "bosh_max_inactivity = 3600\n"+baseConfig, bosh.Options{AuthTimeout: time.Hour})
			for range idle {
				c := newBOSH(b, srv.HTTPURL+"/http-bind")
				c.create("anon.example", "")
			}
			c := newBOSH(b, srv.HTTPURL+"/http-bind")
			full := c.login("anon.example", sasl.Anonymous, "", "")
			msg := stanza.New(stanza.NSClient, "message").Set("from", "bench@anon.example/x").Set("to", full).Set("type", "chat").
				Add(stanza.New(stanza.NSClient, "body").AddText("pending"))
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				srv.Route(ctx, msg.Copy())
				body := c.send("")
				if len(body.Nodes) != 1 || !strings.Contains(body.String(), "pending") {
					b.Fatalf("response %s", body)
				}
			}
		})
	}
}
