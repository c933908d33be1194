package websocket

import (
	"encoding/xml"

	"mellium.im/xmpp/stream"

	"github.com/parley-xmpp/parley/server/stanza"
)

// streamErr returns base with an English text.
func streamErr(base stream.Error, text string) stream.Error {
	e := base
	e.Text = []struct {
		Lang  string
		Value string
	}{{Lang: "en", Value: text}}
	return e
}

func xmlLang(v string) xml.Attr {
	return xml.Attr{Name: xml.Name{Space: stanza.NSXML, Local: "lang"}, Value: v}
}
