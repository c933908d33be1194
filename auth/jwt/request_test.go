package jwt_test

import (
	"net/http/httptest"
	"testing"

	"github.com/parley-xmpp/parley/auth/jwt"
)

func TestTokenFromRequest(t *testing.T) {
	tests := []struct {
		name        string
		url         string
		auth        string
		acceptQuery bool
		want        string
	}{
		{name: "none", url: "/xmpp-websocket?room=r", acceptQuery: true},
		{name: "query", url: "/xmpp-websocket?room=r&token=q.q.q", acceptQuery: true, want: "q.q.q"},
		{name: "query refused", url: "/xmpp-websocket?token=q.q.q", acceptQuery: false},
		{name: "header", url: "/http-bind", auth: "Bearer h.h.h", want: "h.h.h"},
		{name: "header scheme any case", url: "/http-bind", auth: "bearer h.h.h", want: "h.h.h"},
		{name: "query wins over header", url: "/http-bind?token=q.q.q", auth: "Bearer h.h.h", acceptQuery: true, want: "q.q.q"},
		{name: "empty query keeps header", url: "/http-bind?token=", auth: "Bearer h.h.h", acceptQuery: true, want: "h.h.h"},
		{name: "basic auth is not a token", url: "/http-bind", auth: "Basic dXNlcjpwYXNz"},
		{name: "bare scheme", url: "/http-bind", auth: "Bearer "},
		{name: "query with encoded chars", url: "/x?token=a%2Eb.c", acceptQuery: true, want: "a.b.c"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", tc.url, nil)
			if tc.auth != "" {
				r.Header.Set("Authorization", tc.auth)
			}
			if got := jwt.TokenFromRequest(r, tc.acceptQuery); got != tc.want {
				t.Errorf("TokenFromRequest = %q, want %q", got, tc.want)
			}
		})
	}
}
