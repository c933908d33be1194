package jitsi

import (
	"context"
	"crypto/rand"
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/parley-xmpp/parley/muc"
	"github.com/parley-xmpp/parley/server/stanza"
)

// MUCLimitMessagesName is the module name of Jitsi's mod_muc_limit_messages.
const MUCLimitMessagesName = "muc_limit_messages"

// Options of muc_limit_messages, read from the MUC component (inherited
// from the global section).
const (
	// OptLimitMessagesCount is how many messages a room takes; without it
	// the module stays off.
	OptLimitMessagesCount = "muc_limit_messages_count"
	// OptLimitMessagesCheckToken (default false) lifts the limit of a room
	// for good once a user with a token sends a message in it.
	OptLimitMessagesCheckToken = "muc_limit_messages_check_token"
)

// LimitMessagesText is the body of the room's announcement and the text of
// the errors once a room reached its message limit.
const LimitMessagesText = "The message limit for the room has been reached. Messaging is now disabled."

// lmSettings are the module's options; a configuration reload replaces
// them.
type lmSettings struct {
	count      int
	checkToken bool
}

// lmKey holds a room's *lmState.
type lmKey struct{}

// lmState is one room's count (Prosody's room._muc_messages_limit_count and
// room._muc_messages_limit).
type lmState struct {
	count int
	// limited: the limit was reached; lifted: a token user lifted it.
	limited, lifted bool
}

// MUCLimitMessages is Jitsi's mod_muc_limit_messages (SECURITY-CASES 150,
// the room cap), a MUC module: once a room has taken muc_limit_messages_count
// messages, the next one makes the room announce LimitMessagesText in a
// groupchat message and is refused, as is every later one, with
// cancel/not-allowed and that text. Counted are messages to the room or to
// its occupants that have a <body/>, and groupchat messages without one,
// except poll answers (a json-message containing "answer-poll"). Only
// messages from client sessions opened for a conference (the BOSH or
// WebSocket URL named a room) count, as Jitsi counts only those; visitors
// arriving over s2s, jicofo and other components pass. With
// muc_limit_messages_check_token, a message from a token-authenticated
// session lifts the limit of its room for good.
//
// Jitsi finds the room to count in from the session's URL; here it is the
// room the message is addressed to, which is the same room for Jitsi
// clients (the module is loaded per MUC component, and breakout rooms live
// on their own component). Error-type messages (bounces) are not counted.
func MUCLimitMessages(s *muc.Service) error {
	st, ok, err := lmRead(s)
	if err != nil {
		return fmt.Errorf("jitsi: %s: %w", MUCLimitMessagesName, err)
	}
	if !ok {
		s.Logger().Warn("no " + OptLimitMessagesCount + " option set, " + MUCLimitMessagesName + " disabled")
		return nil
	}
	var cur atomic.Pointer[lmSettings]
	cur.Store(st)
	s.Logger().Info("loaded muc message limits", "module", MUCLimitMessagesName, "limit", st.count, "check_token", st.checkToken)
	s.OnReload(func(context.Context) error {
		st, ok, err := lmRead(s)
		if err != nil {
			return fmt.Errorf("jitsi: %s: %w", MUCLimitMessagesName, err)
		}
		if !ok {
			st = nil
		}
		cur.Store(st)
		return nil
	})
	s.Events.Stanza.On(0, MUCLimitMessagesName, func(ctx context.Context, ev *muc.StanzaEvent) error {
		st := cur.Load()
		if st == nil || !lmCounts(ev.Stanza) {
			return nil
		}
		sess := sessionOf(s, ev.From)
		if sess == nil || sess.Params()[ParamRoom] == "" {
			return nil
		}
		r := ev.Room
		state, _ := r.Value(lmKey{}).(*lmState)
		if state == nil {
			state = &lmState{}
			r.SetValue(lmKey{}, state)
		}
		if st.checkToken && SessionClaims(sess) != nil {
			state.lifted = true
		}
		if state.lifted {
			return nil
		}
		state.count++
		if state.count == st.count+1 {
			s.Logger().Warn("room message limit reached", "room", r.JID())
			announce := stanza.New(stanza.NSClient, "message").Set("from", r.JID()).Set("type", "groupchat").Set("id", rand.Text())
			announce.Add(stanza.New(stanza.NSClient, "body").AddText(LimitMessagesText))
			r.BroadcastMessage(ctx, announce)
			state.limited = true
		}
		if state.limited {
			return &muc.Deny{Type: "cancel", Condition: "not-allowed", Text: LimitMessagesText}
		}
		return nil
	})
	return nil
}

// lmRead reads the module's options; ok is false without a count.
func lmRead(s *muc.Service) (st *lmSettings, ok bool, err error) {
	o, ok := s.Option(OptLimitMessagesCount)
	if !ok {
		return nil, false, nil
	}
	n, err := o.AsInt()
	if err != nil {
		return nil, false, err
	}
	st = &lmSettings{count: int(n)}
	if o, ok := s.Option(OptLimitMessagesCheckToken); ok {
		if st.checkToken, err = o.AsBool(); err != nil {
			return nil, false, err
		}
	}
	return st, true, nil
}

// lmCounts reports whether a message counts towards the limit: it has a
// body, or it is a groupchat message that is not a poll answer.
func lmCounts(el *stanza.Element) bool {
	if el.Name.Local != "message" {
		return false
	}
	typ := el.Get("type")
	if typ == "error" {
		return false
	}
	if el.Child("", "body") != nil {
		return true
	}
	if typ != "groupchat" {
		return false
	}
	return !strings.Contains(el.ChildText(NSJitMeet, "json-message"), "answer-poll")
}
