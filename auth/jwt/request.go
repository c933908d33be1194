package jwt

import (
	"net/http"
	"strings"
)

// TokenFromRequest returns the token a BOSH or WebSocket session request
// carries (JITSI.md §4.2): the Authorization header's credentials when the
// scheme is "Bearer" (any case), overridden by a non-empty "token" URL query
// parameter when acceptQuery is true. It returns "" when there is none.
//
// The snapshot of mod_jitsi_session that JITSI.md describes always lets the
// query win (lib-jitsi-meet sends ?token= because browsers cannot set headers
// on WebSockets); a later copy adds accept_token_from_query, default false.
// Tokens in URLs end up in access logs: never log the request URL unredacted
// (SECURITY-CASES #114).
func TokenFromRequest(r *http.Request, acceptQuery bool) string {
	var token string
	if h := r.Header.Get("Authorization"); len(h) > len("Bearer ") && strings.EqualFold(h[:len("Bearer ")], "Bearer ") {
		token = strings.TrimSpace(h[len("Bearer "):])
	}
	if acceptQuery && r.URL != nil {
		if q := r.URL.Query().Get("token"); q != "" {
			token = q
		}
	}
	return token
}
