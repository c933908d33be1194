package jwt_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/parley-xmpp/parley/auth/jwt"
)

// flakyServer drops the connection without an answer for its first
// failures requests, then serves body.
type flakyServer struct {
	*httptest.Server
	mu       sync.Mutex
	failures int
	hits     int
	status   int
	body     []byte
}

func newFlakyServer(t testing.TB, failures, status int, body []byte) *flakyServer {
	t.Helper()
	f := &flakyServer{failures: failures, status: status, body: body}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.hits++
		drop := f.hits <= f.failures
		f.mu.Unlock()
		if drop {
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				_ = conn.Close()
			}
			return
		}
		w.WriteHeader(f.status)
		_, _ = w.Write(f.body)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *flakyServer) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.hits
}

// TestASAPFetchRetries: a connection that fails before any answer is
// retried a bounded number of times; HTTP errors are not (SECURITY-CASES
// 108: bounded work per kid).
func TestASAPFetchRetries(t *testing.T) {
	a := loadKey(t, "rsa_a.pem")
	tests := []struct {
		name      string
		failures  int
		status    int
		ok        bool
		wantFetch int
	}{
		{name: "one dropped connection, then the key", failures: 1, status: 200, ok: true, wantFetch: 2},
		{name: "two dropped connections, then the key", failures: 2, status: 200, ok: true, wantFetch: 3},
		{name: "always dropped: three attempts", failures: 100, status: 200, wantFetch: 3},
		{name: "503 is not retried", failures: 0, status: 503, wantFetch: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs := newFlakyServer(t, tc.failures, tc.status, publicPEM(t, a))
			tr := &http.Transport{DisableKeepAlives: true}
			t.Cleanup(tr.CloseIdleConnections)
			v, err := jwt.NewVerifier(jwt.Config{AppID: testAppID, ASAPKeyServer: fs.URL},
				jwt.WithClock(newClock().Now), jwt.WithHTTPClient(&http.Client{Transport: tr}))
			if err != nil {
				t.Fatal(err)
			}
			_, err = v.Verify(context.Background(), mintRS(t, a, "RS256", testKID, claims(nil)))
			if (err == nil) != tc.ok {
				t.Fatalf("Verify: %v, want ok %v", err, tc.ok)
			}
			if !tc.ok {
				wantErr(t, err, jwt.ReasonKeyUnavailable, "could not obtain public key")
			}
			if n := fs.count(); n != tc.wantFetch {
				t.Fatalf("%d requests, want %d", n, tc.wantFetch)
			}
		})
	}
}
