package jitsi

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"mellium.im/xmpp/jid"

	"github.com/parley-xmpp/parley/auth/jwt"
	"github.com/parley-xmpp/parley/muc"
	"github.com/parley-xmpp/parley/server"
)

// Options of token_verification, read on the MUC component (inherited from
// the global section).
const (
	OptTokenAllowlist                 = "token_verification_allowlist"
	OptTokenRequireTokenForModeration = "token_verification_require_token_for_moderation"
)

// ModerationDeniedText is the error text for a guest's room configuration
// attempt under token_verification_require_token_for_moderation.
const ModerationDeniedText = "Room modification disabled for guests"

// tokenVerificationPriority is the priority of Jitsi's handlers on
// muc-room-pre-create and muc-occupant-pre-join.
const tokenVerificationPriority = 99

// TokenMUCModules returns the muc.WithModule options of the token modules
// for MUC components: token_verification, token_affiliation and
// token_moderation. A component loads the ones its modules_enabled names.
func TokenMUCModules() []muc.Option {
	return []muc.Option{
		muc.WithModule("token_verification", TokenVerification),
		muc.WithModule("token_affiliation", TokenAffiliation),
		muc.WithModule("token_moderation", TokenModeration),
	}
}

// TokenVerification is Jitsi's mod_token_verification for a MUC component
// (JITSI.md §4.5). On muc-room-pre-create and muc-occupant-pre-join
// (priority 99) it lets through admins (the component's own admins and the
// global ones: Jitsi's per-host admin bug, jitsi-meet PR #8331) and users
// whose domain or bare JID is in token_verification_allowlist; everyone else
// must hold a token whose claims pass Util:verify_room (jwt.Verifier.VerifyRoom)
// for the room, or is refused with cancel/not-allowed "Room and token
// mismatched". A token without sub under domain verification is refused
// cleanly (jitsi-meet #9313, #12262).
//
// The token settings come from the parent VirtualHost: the MUC domain minus
// its first label (conference.example.com -> example.com), reusing that
// host's verifier when it authenticates with tokens. With
// token_verification_require_token_for_moderation, non-admins without a
// token and room claim get cancel/not-allowed on muc#owner sets.
//
// Unlike Jitsi, which silently disables itself when the parent host has no
// token configuration, the component then fails to load.
func TokenVerification(s *muc.Service) error {
	tv, err := newTokenVerifier(s)
	if err != nil {
		return err
	}
	e := &s.Events
	e.RoomPreCreate.On(tokenVerificationPriority, "token_verification", func(_ context.Context, ev *muc.RoomCreateEvent) error {
		return tv.check(ev.Room, ev.From)
	})
	e.OccupantPreJoin.On(tokenVerificationPriority, "token_verification", func(_ context.Context, ev *muc.JoinEvent) error {
		return tv.check(ev.Room, ev.From)
	})
	tv.hookOwnerSet()
	// Jitsi's util re-reads the token options on "config-reloaded".
	s.OnReload(func(context.Context) error {
		o, err := tv.readOptions()
		if err != nil {
			return err
		}
		tv.opts.Store(o)
		tv.hookOwnerSet()
		return nil
	})
	return nil
}

type tokenVerifier struct {
	svc    *muc.Service
	parent string     // the VirtualHost with the token settings
	auth   *TokenAuth // its token provider, or nil
	opts   atomic.Pointer[tvOptions]

	mu          sync.Mutex
	ownerHooked bool
}

// tvOptions are the options token_verification reads, replaced together
// on a configuration reload.
type tvOptions struct {
	v                    *jwt.Verifier // when the parent host has no TokenAuth
	allow                map[string]bool
	requireForModeration bool
}

// hookOwnerSet puts checkOwnerSet on the stanza chain the first time
// token_verification_require_token_for_moderation is on.
func (tv *tokenVerifier) hookOwnerSet() {
	tv.mu.Lock()
	defer tv.mu.Unlock()
	if tv.ownerHooked || !tv.opts.Load().requireForModeration {
		return
	}
	tv.ownerHooked = true
	// Jitsi hooks the owner query at -1, before mod_muc's handler.
	tv.svc.Events.Stanza.On(-1, "token_verification", tv.checkOwnerSet)
}

// verifier returns the verifier of the parent host's token settings.
func (tv *tokenVerifier) verifier() *jwt.Verifier {
	if tv.auth != nil {
		return tv.auth.Verifier()
	}
	return tv.opts.Load().v
}

func newTokenVerifier(s *muc.Service) (*tokenVerifier, error) {
	domain := s.Domain()
	_, parent, ok := strings.Cut(domain, ".")
	if !ok || parent == "" {
		return nil, fmt.Errorf("jitsi: token_verification: cannot find the parent host of %s", domain)
	}
	srv := s.Server()
	h := srv.Host(parent)
	if h == nil {
		return nil, fmt.Errorf("jitsi: token_verification: %s needs a VirtualHost %q with the token settings", domain, parent)
	}
	tv := &tokenVerifier{svc: s, parent: parent}
	tv.auth, _ = h.Auth.(*TokenAuth)
	o, err := tv.readOptions()
	if err != nil {
		return nil, err
	}
	tv.opts.Store(o)
	return tv, nil
}

// readOptions reads the module's options from the configuration in
// effect (at load, and again after each reload).
func (tv *tokenVerifier) readOptions() (*tvOptions, error) {
	s := tv.svc
	o := &tvOptions{allow: map[string]bool{}}
	if tv.auth == nil {
		v, err := VerifierForHost(s.Server(), tv.parent, jwt.WithLogger(s.Logger()))
		if err != nil {
			return nil, fmt.Errorf("jitsi: token_verification on %s: %w", s.Domain(), err)
		}
		o.v = v
	}
	if opt, ok := s.Option(OptTokenAllowlist); ok {
		items, err := opt.AsStrings()
		if err != nil {
			return nil, fmt.Errorf("jitsi: token_verification: %w", err)
		}
		for _, it := range items {
			o.allow[strings.ToLower(it)] = true
		}
	}
	if opt, ok := s.Option(OptTokenRequireTokenForModeration); ok {
		b, err := opt.AsBool()
		if err != nil {
			return nil, fmt.Errorf("jitsi: token_verification: %w", err)
		}
		o.requireForModeration = b
	}
	return o, nil
}

// exempt reports whether from needs no token: an admin of the component
// (or a global admin), or a user whose domain or bare JID is allowlisted.
func (tv *tokenVerifier) exempt(from jid.JID) bool {
	if tv.svc.IsAdmin(from.String()) {
		return true
	}
	allow := tv.opts.Load().allow
	return allow[from.Domainpart()] || allow[from.Bare().String()]
}

// check is verify_user: it returns nil to allow, else the refusal.
func (tv *tokenVerifier) check(r *muc.Room, from jid.JID) error {
	if tv.exempt(from) {
		return nil
	}
	claims := SessionClaims(sessionOf(tv.svc, from))
	node, domain := r.Node(), tv.svc.Domain()
	if main, ok := BreakoutMainRoom(r); ok {
		// A breakout room is checked as its conference: the token names
		// the main room, never the breakout room's generated name.
		node, domain, _ = splitJID(main)
	}
	if err := tv.verifier().VerifyRoom(claims, node, domain); err != nil {
		reason := jwt.ReasonOf(err)
		tv.svc.Logger().Info("token not allowed to join", "from", from.String(), "room", r.JID(), "reason", reason)
		text := jwt.RoomMismatchText
		var je *jwt.Error
		if errors.As(err, &je) && je.Text != "" {
			text = je.Text
		}
		return &muc.Deny{Type: "cancel", Condition: jwt.Condition, Text: text}
	}
	return nil
}

// checkOwnerSet refuses muc#owner sets from non-admins whose session has
// no verified token with a room claim.
func (tv *tokenVerifier) checkOwnerSet(_ context.Context, ev *muc.StanzaEvent) error {
	el := ev.Stanza
	if el.Name.Local != "iq" || el.Get("type") != "set" || ev.To.Resourcepart() != "" {
		return nil
	}
	q := el.FirstElement()
	if q == nil || q.Name.Space != muc.NSOwner || q.Name.Local != "query" || !tv.opts.Load().requireForModeration {
		return nil
	}
	if tv.svc.IsAdmin(ev.From.String()) {
		return nil
	}
	claims := SessionClaims(sessionOf(tv.svc, ev.From))
	if claims == nil || claims.Room == "" {
		return &muc.Deny{Type: "cancel", Condition: jwt.Condition, Text: ModerationDeniedText}
	}
	return nil
}

// sessionOf returns the local session of a real full JID, or nil.
func sessionOf(s *muc.Service, from jid.JID) *server.Session {
	return s.Server().Router().Session(from.String())
}
