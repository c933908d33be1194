package muc

import (
	"strconv"
	"strings"
	"time"

	"github.com/parley-xmpp/parley/server/stanza"
)

type historyEntry struct {
	msg   *stanza.Element
	at    time.Time
	chars int
}

// historyLimit is the number of messages the room keeps (its
// historylength, capped by max_history_messages).
func (r *Room) historyLimit() int {
	return min(r.config.HistoryLength, r.svc.cfg().maxHistory)
}

// addHistory records a broadcast message with a delay stamp.
func (r *Room) addHistory(msg *stanza.Element) {
	limit := r.historyLimit()
	if limit <= 0 {
		r.history = nil
		return
	}
	now := r.svc.now()
	c := msg.Copy()
	c.Set("to", "")
	c.Add(stanza.New(NSDelay, "delay").Set("from", r.jid).Set("stamp", stamp(now)))
	r.history = append(r.history, historyEntry{msg: c, at: now, chars: len(c.String())})
	if n := len(r.history) - limit; n > 0 {
		r.history = append(r.history[:0:0], r.history[n:]...)
	}
}

// HistoryRequest is what a joining client asks for in <history/>; nil
// fields were not given.
type HistoryRequest struct {
	MaxChars, MaxStanzas *int
	Since                *time.Time
}

// ParseHistoryRequest reads the <history/> of a join presence
// (XEP-0045 §7.2.15).
func ParseHistoryRequest(join *stanza.Element, now time.Time) HistoryRequest {
	var h HistoryRequest
	x := join.Child(NS, "x")
	if x == nil {
		return h
	}
	el := x.Child(NS, "history")
	if el == nil {
		return h
	}
	if n, err := strconv.Atoi(strings.TrimSpace(el.Get("maxchars"))); err == nil {
		h.MaxChars = &n
	}
	if n, err := strconv.Atoi(strings.TrimSpace(el.Get("maxstanzas"))); err == nil {
		h.MaxStanzas = &n
	}
	if v := el.Get("since"); v != "" {
		if t, err := time.Parse(time.RFC3339, v); err == nil {
			h.Since = &t
		}
	}
	if n, err := strconv.Atoi(strings.TrimSpace(el.Get("seconds"))); err == nil {
		t := now.Add(-time.Duration(n) * time.Second)
		if h.Since == nil || t.After(*h.Since) {
			h.Since = &t
		}
	}
	return h
}

// sendHistory sends the discussion history a join asked for.
func (r *Room) sendHistory(to string, join *stanza.Element) {
	if len(r.history) == 0 {
		return
	}
	h := ParseHistoryRequest(join, r.svc.now())
	maxStanzas := len(r.history)
	if h.MaxChars == nil && h.MaxStanzas == nil && h.Since == nil {
		maxStanzas = r.config.DefaultHistoryMessages
	}
	if h.MaxStanzas != nil {
		maxStanzas = *h.MaxStanzas
	}
	n, chars := 0, 0
	for i := len(r.history) - 1; i >= 0; i-- {
		e := r.history[i]
		if h.MaxChars != nil {
			chars += e.chars + len(to)
			if chars > *h.MaxChars {
				break
			}
		}
		if h.Since != nil && h.Since.After(e.at) {
			break
		}
		if n+1 > maxStanzas {
			break
		}
		n++
	}
	for _, e := range r.history[len(r.history)-n:] {
		c := e.msg.ShallowCopy()
		c.Set("to", to)
		r.Send(c)
	}
}

// stamp formats a XEP-0082 timestamp as Prosody does (UTC, seconds).
func stamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }
