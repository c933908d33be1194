package jwt

import (
	"net/url"
	"strings"
	"unicode/utf8"
)

// VerifyRoom decides whether the holder of claims may create or join the MUC
// room roomNode@mucDomain; it is Jitsi's Util:verify_room (JITSI.md §4.5),
// run by the MUC on room creation and occupant join. claims is what Verify
// returned for the session, nil for a session without a token. It returns nil
// to allow, else an *Error whose Text is Jitsi's presence error text and whose
// Reason tells the cause. Admins and allowlisted JIDs are the caller's business.
//
// With domain verification off, only the room name is checked: no room claim
// (an anonymous or room-less token), "*", the node itself, or the room part of
// a "[tenant]room" node pass. With it on, sub must name the tenant of a
// "[tenant]room" node (and muc_mapper_domain_base must be set), or, for a plain
// node, the domain whose "<muc_mapper_domain_prefix>." form is mucDomain; sub
// "*" matches any tenant or the main MUC. A context.room.regex token's room
// claim is a Lua pattern that must match the whole room name, within the
// token_regex_* limits.
//
// Where Jitsi has bugs this does the safe thing: a token without sub is
// refused cleanly instead of raising a Lua error (jitsi-meet #9313, #12262);
// room names compare after percent-decoding and Unicode lower-casing on both
// sides, so uppercase non-ASCII claims match the percent-encoded lower-case
// node (jitsi-meet #16206, SECURITY-CASES #99); a pattern that does not match
// is refused even when the room claim is optional; and the virtual form
// room@<prefix>.<tenant>.<base> gets the same verdict as the
// [tenant]room@<muc_mapper_domain> form it maps to (SECURITY-CASES #103).
func (v *Verifier) VerifyRoom(claims *Claims, roomNode, mucDomain string) error {
	cfg := &v.cfg
	if claims == nil && cfg.AllowEmptyToken {
		return nil
	}
	if roomNode == "" {
		return roomError(ReasonRoomAddress)
	}
	roomNode = strings.ToLower(roomNode)
	mucDomain = strings.ToLower(strings.TrimSuffix(mucDomain, "."))

	var claim string
	var regex bool
	if claims != nil {
		claim = claims.Room
		regex = claims.Context != nil && claims.Context.RoomRegex
	}
	tenant, name, hasTenant := splitTenant(roomNode)

	if cfg.DisableDomainVerification {
		// Jitsi ignores patterns here: a pattern claim is compared literally.
		if claim == "" || claim == "*" || sameName(roomNode, claim) || (hasTenant && sameName(name, claim)) {
			return nil
		}
		return roomError(ReasonRoomMismatch)
	}

	// Map the virtual address room@<prefix>.<tenant>.<base> to the internal
	// [tenant]room@<muc domain> that muc_domain_mapper uses.
	if !hasTenant && cfg.MUCDomainBase != "" && mucDomain != cfg.MUCDomain {
		if t, ok := virtualTenant(mucDomain, cfg.MUCDomainPrefix, cfg.MUCDomainBase); ok {
			tenant, name, hasTenant = t, roomNode, true
			mucDomain = cfg.MUCDomain
		}
	}
	target := roomNode
	if hasTenant {
		target = name
	}

	switch {
	case claim == "":
		// No room claim: a guest, or a token from a deployment that does not
		// require the claim.
		if cfg.AllowMissingRoomClaim {
			return nil
		}
		return roomError(ReasonRoomNameMismatch)
	case claim == "*":
	case regex:
		if err := v.checkPattern(claim, target); err != nil {
			return err
		}
	case !sameName(target, claim):
		return roomError(ReasonRoomMismatch)
	}

	sub := strings.ToLower(claims.Subject)
	if sub == "" {
		return roomError(ReasonSubjectMissing)
	}
	if hasTenant {
		if cfg.MUCDomainBase == "" {
			v.log.Warn("jwt: tenant room needs muc_mapper_domain_base; denying", "room", roomNode)
			return roomError(ReasonServerConfig)
		}
		if mucDomain != cfg.MUCDomain || (sub != "*" && !sameName(tenant, sub)) {
			return roomError(ReasonRoomMismatch)
		}
		return nil
	}
	want := cfg.MUCDomainPrefix + "." + sub
	if sub == "*" {
		if cfg.MUCDomain == "" {
			return roomError(ReasonServerConfig)
		}
		want = cfg.MUCDomain
	}
	if mucDomain != want {
		return roomError(ReasonRoomMismatch)
	}
	return nil
}

// checkPattern applies the token_regex_* limits, then matches.
func (v *Verifier) checkPattern(pattern, target string) error {
	cfg := &v.cfg
	switch {
	case cfg.DisableRoomPatterns,
		len(target) > cfg.RoomPatternMaxRoomLength,
		len(pattern) > maxPatternLength,
		countQuantifiers(pattern) > cfg.RoomPatternMaxQuantifiers:
		return roomError(ReasonInvalidPattern)
	}
	ok, err := matchRoomPattern(pattern, target)
	if err != nil {
		return &Error{Reason: ReasonInvalidPattern, Text: RoomMismatchText, Err: err}
	}
	if !ok {
		return roomError(ReasonRoomNameMismatch)
	}
	return nil
}

func roomError(r Reason) *Error {
	return &Error{Reason: r, Text: RoomMismatchText}
}

// splitTenant splits "[tenant]room" (Jitsi's ^%[([^%]]+)%](.+)$).
func splitTenant(node string) (tenant, name string, ok bool) {
	if !strings.HasPrefix(node, "[") {
		return "", "", false
	}
	end := strings.IndexByte(node, ']')
	if end < 2 || end == len(node)-1 {
		return "", "", false
	}
	return node[1:end], node[end+1:], true
}

// virtualTenant extracts T from <prefix>.<T>.<base>, T being one DNS label.
func virtualTenant(domain, prefix, base string) (string, bool) {
	rest, ok := strings.CutPrefix(domain, prefix+".")
	if !ok {
		return "", false
	}
	t, ok := strings.CutSuffix(rest, "."+base)
	if !ok || t == "" || strings.Contains(t, ".") {
		return "", false
	}
	return t, true
}

// sameName compares room or tenant names as Jitsi means them: case-insensitive,
// and the same whether percent-encoded (how jitsi-meet names rooms) or not.
func sameName(a, b string) bool { return foldName(a) == foldName(b) }

// foldName percent-decodes s when it decodes to valid UTF-8, then lower-cases
// it with Unicode rules.
func foldName(s string) string {
	if strings.IndexByte(s, '%') >= 0 {
		if d, err := url.PathUnescape(s); err == nil && utf8.ValidString(d) {
			s = d
		}
	}
	return strings.ToLower(s)
}
