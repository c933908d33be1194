package server

import (
	"errors"

	"github.com/parley-xmpp/parley/server/hook"
	"github.com/parley-xmpp/parley/server/stanza"
)

// StanzaEvent is the payload of the stanza hooks. Session is the client
// session the stanza came from, or nil for stanzas from components and
// modules.
type StanzaEvent struct {
	Session *Session
	Stanza  *stanza.Element
}

// OutStanzaEvent is the payload of HostEvents.StanzaOut.
type OutStanzaEvent struct {
	Session *Session
	// Stanza is about to be queued to Session. It may be shared with other
	// recipients: a handler that edits it sets Stanza to an edited copy.
	Stanza *stanza.Element
}

// SessionEvent is the payload of session lifecycle hooks.
type SessionEvent struct {
	Session *Session
}

// AuthEvent is fired after SASL succeeds and before the stream restarts;
// a handler may veto the login by returning an *auth.Failure.
type AuthEvent struct {
	Session  *Session
	Username string
}

// HostEvents are the hook chains of one virtual host, named after the
// Prosody events they stand for.
type HostEvents struct {
	// PreStanza runs for every stanza a bound client sends, after the
	// sender was stamped ("pre-message/…", "pre-presence/…", "pre-iq/…").
	PreStanza *hook.Chain[StanzaEvent]
	// MessageToHost runs for messages addressed to the host itself
	// ("message/host").
	MessageToHost *hook.Chain[StanzaEvent]
	// IQResponse runs for IQ results and errors addressed to the host
	// ("iq-result/host", "iq-error/host").
	IQResponse *hook.Chain[StanzaEvent]
	// Authenticated runs once SASL succeeded ("authentication-success").
	Authenticated *hook.Chain[AuthEvent]
	// ResourceBound runs after a session bound its resource
	// ("resource-bind").
	ResourceBound *hook.Chain[SessionEvent]
	// SessionClosed runs after a bound session ended ("resource-unbind").
	SessionClosed *hook.Chain[SessionEvent]
	// StanzaOut runs for every stanza queued to a client session of the
	// host, on the sending goroutine, like Prosody's "stanzas/out" session
	// filters. Handlers may replace the stanza with an edited copy;
	// hook.ErrStop drops it. It costs nothing while no handler is on.
	StanzaOut *hook.Chain[OutStanzaEvent]
	// UserDeleted runs after an account of the host was deleted through
	// the server ("user-deleted"). A built-in handler at priority 200
	// closes the account's sessions with not-authorized (accounts.go).
	UserDeleted *hook.Chain[AccountEvent]
	// UserDisabled runs after an account of the host was disabled through
	// the server ("user-disabled"); the same built-in handler closes its
	// sessions.
	UserDisabled *hook.Chain[AccountEvent]
	// UserEnabled runs after a disabled account was enabled again
	// ("user-enabled").
	UserEnabled *hook.Chain[AccountEvent]
}

func newHostEvents() HostEvents {
	e := HostEvents{
		PreStanza:     hook.NewChain[StanzaEvent]("pre-stanza"),
		MessageToHost: hook.NewChain[StanzaEvent]("message/host"),
		IQResponse:    hook.NewChain[StanzaEvent]("iq-result/host"),
		Authenticated: hook.NewChain[AuthEvent]("authentication-success"),
		ResourceBound: hook.NewChain[SessionEvent]("resource-bind"),
		SessionClosed: hook.NewChain[SessionEvent]("resource-unbind"),
		StanzaOut:     hook.NewChain[OutStanzaEvent]("stanzas/out"),
		UserDeleted:   hook.NewChain[AccountEvent]("user-deleted"),
		UserDisabled:  hook.NewChain[AccountEvent]("user-disabled"),
		UserEnabled:   hook.NewChain[AccountEvent]("user-enabled"),
	}
	e.onAccountChanges()
	return e
}

func isStop(err error) bool { return errors.Is(err, hook.ErrStop) }

func asStanzaError(err error) (*StanzaError, bool) {
	var se *StanzaError
	if errors.As(err, &se) {
		return se, true
	}
	return nil, false
}

// observe reports the time of the host's hook chains to the metrics. The
// per-recipient StanzaOut chain is left out: timing it would cost more
// than most of its handlers.
func (e *HostEvents) observe(m *metrics) {
	e.PreStanza.Observe(m.hookObserver(e.PreStanza.Name()))
	e.MessageToHost.Observe(m.hookObserver(e.MessageToHost.Name()))
	e.IQResponse.Observe(m.hookObserver(e.IQResponse.Name()))
	e.Authenticated.Observe(m.hookObserver(e.Authenticated.Name()))
	e.ResourceBound.Observe(m.hookObserver(e.ResourceBound.Name()))
	e.SessionClosed.Observe(m.hookObserver(e.SessionClosed.Name()))
	e.UserDeleted.Observe(m.hookObserver(e.UserDeleted.Name()))
	e.UserDisabled.Observe(m.hookObserver(e.UserDisabled.Name()))
	e.UserEnabled.Observe(m.hookObserver(e.UserEnabled.Name()))
}
