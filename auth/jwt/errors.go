package jwt

import (
	"errors"
	"fmt"
)

// Reason is a short, stable code for why a token or a room check failed. It is
// meant for metrics labels and logs; it never contains token data.
type Reason string

// Reasons returned by [Verifier.Verify].
const (
	ReasonTokenRequired     Reason = "token-required"           // no token and allow_empty_token is off
	ReasonTokenTooLarge     Reason = "token-too-large"          // over MaxTokenSize
	ReasonMalformed         Reason = "malformed"                // not three base64url JSON segments, duplicate keys, bad header
	ReasonKeyID             Reason = "bad-kid"                  // kid missing or unusable (key-server modes)
	ReasonAlgorithm         Reason = "bad-alg"                  // alg missing, "none", or not the configured algorithm
	ReasonType              Reason = "bad-typ"                  // typ is not exactly "JWT"
	ReasonKeyUnavailable    Reason = "key-unavailable"          // the public key could not be obtained
	ReasonSignature         Reason = "bad-signature"            // signature does not verify
	ReasonClaimType         Reason = "bad-claim"                // a claim has the wrong JSON type
	ReasonExpired           Reason = "expired"                  // now >= exp (+ leeway)
	ReasonNotYetValid       Reason = "not-yet-valid"            // now < nbf (- leeway)
	ReasonExpirationMissing Reason = "exp-missing"              // exp absent while RequireExpiration is set
	ReasonIssuer            Reason = "bad-issuer"               // iss missing or not accepted
	ReasonAudience          Reason = "bad-audience"             // aud missing or not accepted
	ReasonRoomMissing       Reason = "room-missing"             // room absent while the room claim is required
	ReasonInternal          Reason = "internal"                 // unexpected library failure
	ReasonRoomMismatch      Reason = "room-mismatch"            // VerifyRoom: room or domain does not match the token
	ReasonRoomNameMismatch  Reason = "room-name-does-not-match" // VerifyRoom: nothing to check the room against
	ReasonInvalidPattern    Reason = "invalid-regex"            // VerifyRoom: room pattern refused (bad, too costly, disabled)
	ReasonSubjectMissing    Reason = "sub-missing"              // VerifyRoom: domain verification needs sub
	ReasonServerConfig      Reason = "server-missing-config"    // VerifyRoom: muc_mapper_domain_base needed but unset
	ReasonRoomAddress       Reason = "invalid-room-address"     // VerifyRoom: empty room node
)

// Condition is the SASL failure condition (RFC 6120 §6.5) Jitsi uses for every
// token failure, and the stanza error condition it uses for a room mismatch.
const Condition = "not-allowed"

// RoomMismatchText is the text Jitsi's token_verification module puts in the
// presence error when a join is refused.
const RoomMismatchText = "Room and token mismatched"

// Error is the error type returned by [Verifier.Verify] and [Verifier.VerifyRoom].
//
// Text follows the wording of Jitsi's token plugin (luajwtjitsi and
// token/util.lib.lua) wherever Jitsi has a message for the case, so clients and
// log parsers see the same strings as with Prosody; it is safe to send to the
// client as the SASL failure <text>. Err, when set, is the underlying cause and is
// for logs only.
type Error struct {
	Reason Reason
	Text   string
	Err    error
}

func newError(r Reason, text string, err error) *Error {
	return &Error{Reason: r, Text: text, Err: err}
}

// Error implements the error interface.
func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("jwt: %s: %s: %v", e.Reason, e.Text, e.Err)
	}
	return fmt.Sprintf("jwt: %s: %s", e.Reason, e.Text)
}

// Unwrap returns the underlying cause, if any.
func (e *Error) Unwrap() error { return e.Err }

// Condition returns the XMPP condition to report the failure with; Jitsi uses
// not-allowed for all of them.
func (e *Error) Condition() string { return Condition }

// ReasonOf returns the Reason of err if it is (or wraps) an *Error, else "".
func ReasonOf(err error) Reason {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ""
}

// Texts Jitsi uses (luajwtjitsi.lib.lua and token/util.lib.lua).
const (
	textTokenRequired = "token required"
	textInvalidToken  = "Invalid token"
	textInvalidHeader = "Invalid header"
	textInvalidBody   = "Invalid body"
	textInvalidSig    = "Invalid signature"
	textInvalidTyp    = "Invalid typ"
	textInvalidAlg    = "Invalid or incorrect alg"
	textBadFormat     = "bad token format"
	textKIDMissing    = "'kid' claim is missing"
	textAlgMissing    = "'alg' claim is missing"
	textAlgNotRS      = "'kid' claim only support with RS family"
	textNoPublicKey   = "could not obtain public key"
	textExpNotNumber  = "exp must be number"
	textNbfNotNumber  = "nbf must be number"
	textNotYetValid   = "Not acceptable by nbf"
	textIssMissing    = "'iss' claim is missing"
	textIssInvalid    = "invalid 'iss' claim"
	textAudMissing    = "'aud' claim is missing"
	textAudInvalid    = "invalid 'aud' claim"
	textRoomMissing   = "'room' claim is missing"
	textTooLarge      = "token too large"        // parley: no Jitsi equivalent
	textKIDInvalid    = "invalid 'kid' claim"    // parley: no Jitsi equivalent
	textExpMissing    = "'exp' claim is missing" // parley: no Jitsi equivalent
	textInternal      = "internal error"         // parley: no Jitsi equivalent
)

func invalidClaimText(name string) string { return "invalid '" + name + "' claim" }
