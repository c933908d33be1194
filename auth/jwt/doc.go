// Package jwt implements Jitsi Meet's token authentication: the checks of
// Jitsi's Prosody token plugin (mod_auth_token with token/util.lib.lua and
// luajwtjitsi) and of mod_token_verification, as a plain library.
//
// A [Verifier] is built from one VirtualHost's options ([ConfigFromOptions]
// reads the Prosody names: app_id, app_secret, asap_key_server,
// cache_keys_url, signature_algorithm, allow_empty_token,
// asap_accepted_issuers, asap_accepted_audiences, asap_require_room_claim,
// enable_domain_verification, muc_mapper_domain_base/_prefix, ...).
// [Verifier.Verify] runs at SASL time on the token taken from the BOSH or
// WebSocket URL (or Authorization header) and returns the [Claims] to keep on
// the session; [Verifier.VerifyRoom] runs when that session creates or joins a
// MUC room. Failures are [*Error] values whose Text is Jitsi's wording, to send
// as the SASL failure text or presence error text with condition not-allowed.
//
// Keys: HS256/384/512 tokens are checked with app_secret; RS256/384/512
// tokens (and, beyond Jitsi, ES256/ES384) with a public key found by the
// header's kid, either in the cache_keys_url set (JWKS or kid-to-certificate
// map) or fetched from <asap_key_server>/<hex(sha256(kid))>.pem. The
// algorithm comes from the configuration only, and the key type follows it
// (a key of another family or curve is no key), so the token header cannot
// pick a weaker check (CVE-2021-39215). Fetched keys are cached with a TTL in
// an LRU of jwt_pubkey_cache_size, concurrent fetches of one kid are merged,
// a fetch is retried (at most three attempts, within the fetch timeout) only
// when the connection fails before an answer, failures are remembered
// briefly, and fetches of new kids are rate-limited.
//
// Where Jitsi has known bugs (JITSI.md §4.7) this package does the safe
// thing: HMACs are compared in constant time; a token without sub is refused
// cleanly under domain verification; a missing room claim is an ordinary
// not-allowed failure; aud arrays are matched item by item; duplicate JSON
// keys, oversized tokens and non-numeric exp/nbf are refused; a 204 from the
// key server is not a key; room names compare case-insensitively with Unicode
// rules on both sides. Extensions that Jitsi lacks are opt-in: token_require_exp
// and token_leeway (Jitsi: exp optional, no leeway).
//
// [Mint] signs tokens for tests and the `parley token` command.
//
// The package depends on no server code; the server plugs it in as a SASL
// provider and a MUC pre-join/pre-create hook.
package jwt
