package jitsi

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"

	"github.com/parley-xmpp/parley/muc"
)

// Name, options and error texts of muc_resource_validate.
const (
	// MUCResourceValidateName is the MUC module's name.
	MUCResourceValidateName = "muc_resource_validate"
	// OptAnonymousStrict makes users of anonymous VirtualHosts join with
	// the first 8 characters of their username as nick.
	OptAnonymousStrict = "anonymous_strict"
	// OptAnonymousAuthMethods lists the authentication providers that
	// count as anonymous (default anonymous, jitsi-anonymous, token).
	OptAnonymousAuthMethods = "anonymous_auth_methods"
	// ResourceValidateInvalidText is the error text for a bad nick.
	ResourceValidateInvalidText = "Invalid resource"
	// ResourceValidateAnonymousText is the error text for an anonymous
	// user whose nick is not its username prefix.
	ResourceValidateAnonymousText = "Invalid anonymous user ID"
	// ResourceValidateNickChangeText is the error text for a nick change.
	ResourceValidateNickChangeText = "Nick changes are not allowed"
)

// rvDefaultAnonymousMethods is anonymous_auth_methods' default.
var rvDefaultAnonymousMethods = []string{"anonymous", "jitsi-anonymous", "token"}

// ValidMUCResource reports whether nick matches Jitsi's
// ^[a-zA-Z0-9][a-zA-Z0-9_]*$: ASCII letters, digits and underscores, not
// starting with an underscore.
func ValidMUCResource(nick string) bool {
	if nick == "" || nick[0] == '_' {
		return false
	}
	for i := 0; i < len(nick); i++ {
		c := nick[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// MUCResourceValidate is Jitsi's muc_resource_validate, a MUC module. At
// muc-occupant-pre-join (priority 11) a user (JID with a localpart) whose
// nick does not pass ValidMUCResource gets cancel/not-allowed "Invalid
// resource"; with anonymous_strict = true a user of a VirtualHost whose
// authentication provider is in anonymous_auth_methods must also use the
// first 8 characters of its username as nick, else cancel/not-allowed
// "Invalid anonymous user ID". At muc-occupant-pre-change (11) every nick
// change is refused with cancel/not-allowed "Nick changes are not allowed"
// (display names travel in <nick/>, not in the occupant JID). Health-check
// rooms are exempt. The errors come from the occupant JID without a by
// attribute, as Prosody's st.error_reply makes them.
//
// anonymous_strict and anonymous_auth_methods are read again when the
// configuration is reloaded, as the Lua module does on "config-reloaded".
func MUCResourceValidate(s *muc.Service) error {
	var cur atomic.Pointer[rvOptions]
	o, err := rvReadOptions(s)
	if err != nil {
		return err
	}
	cur.Store(o)
	s.OnReload(func(context.Context) error {
		o, err := rvReadOptions(s)
		if err != nil {
			return err
		}
		cur.Store(o)
		s.Logger().Info("module reloaded", "module", MUCResourceValidateName, "anonymous_strict", o.strict)
		return nil
	})
	anonymousDomain := func(methods []string, domain string) bool {
		h := s.Server().Host(domain)
		if h == nil {
			return false
		}
		return slices.Contains(methods, s.Server().Config().String(h.Config, "authentication", "internal_hashed"))
	}
	s.Logger().Info("module loaded", "module", MUCResourceValidateName, "anonymous_strict", o.strict)
	s.Events.OccupantPreJoin.On(11, MUCResourceValidateName, func(_ context.Context, ev *muc.JoinEvent) error {
		if IsHealthCheckRoom(ev.Room.Node()) {
			return nil
		}
		user := ev.From.Localpart()
		if user == "" {
			return nil
		}
		nick := rvNick(ev.Stanza.Get("to"))
		if !ValidMUCResource(nick) {
			s.Logger().Warn("rejecting join with invalid MUC resource", "from", ev.From.String(), "nick", nick)
			return &muc.Deny{Type: "cancel", Condition: "not-allowed", Text: ResourceValidateInvalidText}
		}
		if o := cur.Load(); o.strict && anonymousDomain(o.methods, ev.From.Domainpart()) {
			prefix := user
			if len(prefix) > 8 {
				prefix = prefix[:8]
			}
			if nick != prefix {
				s.Logger().Warn("rejecting anonymous user: nick is not its username prefix",
					"from", ev.From.String(), "nick", nick, "prefix", prefix)
				return &muc.Deny{Type: "cancel", Condition: "not-allowed", Text: ResourceValidateAnonymousText}
			}
		}
		return nil
	})
	s.Events.OccupantPreChange.On(11, MUCResourceValidateName, func(_ context.Context, ev *muc.ChangeEvent) error {
		if IsHealthCheckRoom(ev.Room.Node()) || ev.Orig == nil || ev.Dest == nil {
			return nil
		}
		if ev.Dest.Nick != ev.Orig.Nick {
			s.Logger().Warn("rejecting MUC nick change", "from", ev.From.String(), "old", ev.Orig.Nick, "new", ev.Dest.Nick)
			return &muc.Deny{Type: "cancel", Condition: "not-allowed", Text: ResourceValidateNickChangeText}
		}
		return nil
	})
	return nil
}

// rvOptions are the module's options.
type rvOptions struct {
	strict  bool
	methods []string
}

// rvReadOptions reads anonymous_strict and anonymous_auth_methods from
// the component's section of the configuration in effect.
func rvReadOptions(s *muc.Service) (*rvOptions, error) {
	o := &rvOptions{methods: rvDefaultAnonymousMethods}
	if opt, ok := s.Option(OptAnonymousStrict); ok {
		b, err := opt.AsBool()
		if err != nil {
			return nil, fmt.Errorf("jitsi: %s: %w", MUCResourceValidateName, err)
		}
		o.strict = b
	}
	if opt, ok := s.Option(OptAnonymousAuthMethods); ok {
		list, err := opt.AsStrings()
		if err != nil {
			return nil, fmt.Errorf("jitsi: %s: %w", MUCResourceValidateName, err)
		}
		o.methods = list
	}
	return o, nil
}

// rvNick returns the resourcepart of an occupant JID string as given.
func rvNick(occupant string) string {
	_, _, res := splitJID(occupant)
	return res
}
