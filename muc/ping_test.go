package muc_test

import (
	"slices"
	"testing"

	"github.com/parley-xmpp/parley/muc"
)

// TestPingService: Jicofo and the bridge ping the MUC components they use;
// the stock Jitsi configs put "ping" in the MUC's modules_enabled, which
// also lists the feature.
func TestPingService(t *testing.T) {
	for _, tc := range []struct {
		name, cfg string
		listed    bool
	}{
		{"ping enabled", `modules_enabled = { "ping" }`, true},
		{"ping not enabled", ``, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, "", tc.cfg)
			alice := e.user("alice")
			resp := alice.Request(iq("get", conf, el(muc.NSPing, "ping")))
			must(t, resp.Get("type") == "result" && resp.Get("from") == conf, "ping: %s", resp)
			info := alice.Request(iq("get", conf, el(muc.NSDiscoInfo, "query")))
			var feats []string
			for _, f := range info.Child(muc.NSDiscoInfo, "query").Elements() {
				feats = append(feats, f.Get("var"))
			}
			must(t, slices.Contains(feats, muc.NSPing) == tc.listed, "disco#info features %v", feats)
		})
	}
}
