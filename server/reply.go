package server

import (
	"encoding/xml"

	"github.com/parley-xmpp/parley/server/stanza"
)

func langAttr(lang string) xml.Attr {
	return xml.Attr{Name: xml.Name{Space: stanza.NSXML, Local: "lang"}, Value: lang}
}

// iqResult returns an empty result for the IQ request el, addressed back to
// its sender.
func iqResult(el *stanza.Element) *stanza.Element {
	r := stanza.New(el.Name.Space, "iq")
	r.Set("type", "result").Set("id", el.Get("id"))
	r.Set("from", el.Get("to")).Set("to", el.Get("from"))
	return r
}

// IQResult returns an empty result reply to the IQ request el.
func IQResult(el *stanza.Element) *stanza.Element { return iqResult(el) }

// ErrorReply returns the error reply RFC 6120 §8.3 prescribes for el: the
// same kind and id, swapped addresses, type error, the original payload,
// and <error type=...><condition/><text/></error>.
func ErrorReply(el *stanza.Element, errType, condition, text string) *stanza.Element {
	return errorReply(el, errType, condition, text)
}

func errorReply(el *stanza.Element, errType, condition, text string) *stanza.Element {
	r := stanza.New(el.Name.Space, el.Name.Local)
	r.Set("type", "error").Set("id", el.Get("id"))
	r.Set("from", el.Get("to")).Set("to", el.Get("from"))
	if el.Name.Local == "iq" {
		if p := el.FirstElement(); p != nil {
			r.Add(p.Copy())
		}
	} else {
		for _, c := range el.Elements() {
			if c.Name.Local != "error" {
				r.Add(c.Copy())
			}
		}
	}
	e := stanza.New(el.Name.Space, "error").Set("type", errType)
	e.Add(stanza.New(stanza.NSStanzas, condition))
	if text != "" {
		e.Add(stanza.New(stanza.NSStanzas, "text").AddText(text))
	}
	r.Add(e)
	return r
}

// StanzaError is an error that turns into a stanza error reply. Handlers
// (IQ handlers, hooks) return it to have exactly one error reply sent.
type StanzaError struct {
	Type      string // cancel, modify, auth, wait, continue
	Condition string // RFC 6120 §8.3.3 condition
	Text      string
	// App is an optional application-specific condition element.
	App *stanza.Element
}

func (e *StanzaError) Error() string {
	if e.Text != "" {
		return "server: stanza error " + e.Condition + ": " + e.Text
	}
	return "server: stanza error " + e.Condition
}

// Reply builds the error reply to el.
func (e *StanzaError) Reply(el *stanza.Element) *stanza.Element {
	r := errorReply(el, e.Type, e.Condition, e.Text)
	if e.App != nil {
		r.Child("", "error").Add(e.App.Copy())
	}
	return r
}

func attr(name, value string) xml.Attr {
	return xml.Attr{Name: xml.Name{Local: name}, Value: value}
}
