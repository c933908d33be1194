package muc

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/text/secure/precis"
	"mellium.im/xmpp/jid"
)

// Nicknames (SECURITY-CASES 135). A room nick is the resourcepart of an
// occupant JID, which the server has already prepared with PRECIS
// OpaqueString (RFC 7622), whose only normalisation is NFC. Prosody, still
// on stringprep's Resourceprep, also applies compatibility (NFKC)
// normalisation, so that "Ａlice" (fullwidth) and "Alice" are one nick
// there. The service applies the PRECIS Nickname profile's enforcement
// (RFC 8266: non-ASCII spaces mapped to ASCII, leading and trailing
// spaces removed, runs of spaces collapsed, NFKC) to every nick addressed
// to it, so such nicks name the same occupant and a second user asking
// for either gets the usual conflict. Case is kept, as in Prosody: "alice"
// and "Alice" are different nicks. Homoglyphs across scripts (Cyrillic
// "А" for Latin "A") are not unified; no Unicode normalisation does that.

// errBadNick is returned by PrepareNick for a nick the Nickname profile
// refuses.
var errBadNick = errors.New("muc: invalid nickname")

// PrepareNick returns the form of nick the room stores (RFC 8266
// enforcement, case kept). A nick of spaces only is returned unchanged so
// that the join is refused as an invisible nick.
func PrepareNick(nick string) (string, error) {
	if plainNick(nick) {
		return nick, nil
	}
	if strings.TrimSpace(nick) == "" {
		return nick, nil
	}
	p, err := precis.Nickname.String(nick)
	if err != nil {
		return "", fmt.Errorf("%w %q: %w", errBadNick, nick, err)
	}
	return p, nil
}

// plainNick reports whether nick is printable ASCII with single inner
// spaces only, which the Nickname profile leaves as it is.
func plainNick(nick string) bool {
	if nick == "" || nick[0] == ' ' || nick[len(nick)-1] == ' ' {
		return false
	}
	for i := 0; i < len(nick); i++ {
		c := nick[i]
		if c < ' ' || c > '~' || (c == ' ' && nick[i-1] == ' ') {
			return false
		}
	}
	return true
}

// prepareOccupantJID returns to with its nick prepared, and whether that
// changed it.
func prepareOccupantJID(to jid.JID) (jid.JID, bool, error) {
	res := to.Resourcepart()
	if res == "" || to.Localpart() == "" {
		return to, false, nil
	}
	p, err := PrepareNick(res)
	if err != nil {
		return to, false, err
	}
	if p == res {
		return to, false, nil
	}
	j, err := jid.New(to.Localpart(), to.Domainpart(), p)
	if err != nil {
		return to, false, fmt.Errorf("%w %q: %w", errBadNick, res, err)
	}
	return j, true, nil
}

// nickPreparedKey marks a context whose stanza asked for a nick that
// preparation changed (the self-presence then carries status 210).
type nickPreparedKey struct{}

func withNickPrepared(ctx context.Context) context.Context {
	return context.WithValue(ctx, nickPreparedKey{}, true)
}

func nickPrepared(ctx context.Context) bool {
	b, _ := ctx.Value(nickPreparedKey{}).(bool)
	return b
}
