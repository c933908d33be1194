package muc

import (
	"errors"
	"fmt"

	"github.com/parley-xmpp/parley/server"
	"github.com/parley-xmpp/parley/server/hook"
	"github.com/parley-xmpp/parley/server/stanza"
)

// Errors returned by Room and Service methods.
var (
	// ErrNoRoom is returned when the addressed room does not exist.
	ErrNoRoom = errors.New("muc: no such room")
	// ErrDestroyed is returned by methods of a room that was destroyed.
	ErrDestroyed = errors.New("muc: room destroyed")
	// ErrBadJID is returned for an address that is not a valid JID.
	ErrBadJID = errors.New("muc: invalid JID")
)

// Deny is the error a hook handler returns to refuse an event with a stanza
// error. The component sends exactly one error reply built from it (the
// handler must not reply itself).
type Deny struct {
	// Type is the error type: cancel, modify, auth, wait or continue.
	Type string
	// Condition is the RFC 6120 §8.3.3 defined condition, e.g. not-allowed.
	Condition string
	// Text is the optional human-readable text.
	Text string
	// App is an optional application-specific condition element added to
	// <error/>, such as Jitsi's <displayname-required/>.
	App *stanza.Element
	// By is the optional by attribute of <error/> (Prosody sets the room
	// JID for the core MUC checks).
	By string
	// Gone is the character data of a <gone/> condition: the xmpp: URI of
	// the room that replaced a destroyed one.
	Gone string
}

// Error implements error.
func (d *Deny) Error() string {
	if d.Text != "" {
		return fmt.Sprintf("muc: denied: %s: %s", d.Condition, d.Text)
	}
	return "muc: denied: " + d.Condition
}

// Reply builds the error reply to el.
func (d *Deny) Reply(el *stanza.Element) *stanza.Element {
	r := errorReply(el, d.Type, d.Condition, d.Text, d.By)
	e := r.Child("", "error")
	if d.Gone != "" {
		e.Child(stanza.NSStanzas, "gone").AddText(d.Gone)
	}
	if d.App != nil {
		e.Add(d.App.Copy())
	}
	return r
}

// deny is a short constructor for the built-in checks.
func deny(typ, cond, text, by string) *Deny {
	return &Deny{Type: typ, Condition: cond, Text: text, By: by}
}

// errorReply builds an error reply the way Prosody's st.error_reply does:
// same kind and id, swapped addresses, no copy of the payload, and a by
// attribute unless it equals the reply's from.
func errorReply(el *stanza.Element, typ, cond, text, by string) *stanza.Element {
	r := stanza.New(stanza.NSClient, el.Name.Local)
	r.Set("to", el.Get("from")).Set("from", el.Get("to")).Set("id", el.Get("id")).Set("type", "error")
	e := stanza.New(stanza.NSClient, "error").Set("type", typ)
	if by != "" && by != el.Get("to") {
		e.Set("by", by)
	}
	e.Add(stanza.New(stanza.NSStanzas, cond))
	if text != "" {
		e.Add(stanza.New(stanza.NSStanzas, "text").AddText(text))
	}
	return r.Add(e)
}

// reply builds an empty reply to el (Prosody's st.reply): IQ result, or
// the same kind and type for other stanzas.
func reply(el *stanza.Element) *stanza.Element {
	r := stanza.New(stanza.NSClient, el.Name.Local)
	typ := el.Get("type")
	if el.Name.Local == "iq" {
		typ = "result"
	}
	r.Set("to", el.Get("from")).Set("from", el.Get("to")).Set("id", el.Get("id")).Set("type", typ)
	return r
}

// vetoKind classifies a hook error.
type vetoKind int

const (
	vetoNone     vetoKind = iota // the event went through
	vetoReply                    // send the reply
	vetoSilent                   // hook.ErrStop: the handler took over
	vetoInternal                 // an unexpected error: logged, internal-server-error
)

// classify turns the error a chain returned into what to send back for el.
// The reply is nil unless kind is vetoReply or vetoInternal.
func classify(err error, el *stanza.Element) (vetoKind, *stanza.Element) {
	if err == nil {
		return vetoNone, nil
	}
	if errors.Is(err, hook.ErrStop) {
		return vetoSilent, nil
	}
	var d *Deny
	if errors.As(err, &d) {
		return vetoReply, d.Reply(el)
	}
	var se *server.StanzaError
	if errors.As(err, &se) {
		r := errorReply(el, se.Type, se.Condition, se.Text, "")
		if se.App != nil {
			r.Child("", "error").Add(se.App.Copy())
		}
		return vetoReply, r
	}
	return vetoInternal, errorReply(el, "wait", "internal-server-error", "", "")
}
