package muc

import (
	"context"
	"errors"
	"slices"

	"mellium.im/xmpp/jid"

	"github.com/parley-xmpp/parley/server/hook"
	"github.com/parley-xmpp/parley/server/stanza"
)

// ConfigForm builds the room configuration form as actor would get it,
// by firing the ConfigForm hooks.
func (r *Room) ConfigForm(ctx context.Context, actor jid.JID) *Form {
	f := NewForm("form", NSRoomConfig)
	f.Title = "Configuration for " + r.jid
	f.Instructions = "Complete and submit this form to configure the room."
	ev := &ConfigFormEvent{Room: r, Actor: actor, Form: f}
	if err := r.svc.Events.ConfigForm.Fire(ctx, ev); err != nil {
		r.svc.log.Error("muc-config-form hook failed", "room", r.jid, "err", err)
	}
	return ev.Form
}

func (r *Room) handleOwnerGet(ctx context.Context, el *stanza.Element, from jid.JID) {
	if r.Affiliation(from.String()) != AffiliationOwner {
		r.replyError(el, deny("auth", "forbidden", "Only owners can configure rooms", ""))
		return
	}
	q := stanza.New(NSOwner, "query").Add(r.ConfigForm(ctx, from).Element())
	r.Send(reply(el).Add(q))
}

func (r *Room) handleOwnerSet(ctx context.Context, el, q *stanza.Element, from jid.JID) {
	if r.Affiliation(from.String()) != AffiliationOwner {
		r.replyError(el, deny("auth", "forbidden", "Only owners can configure rooms", ""))
		return
	}
	child := q.FirstElement()
	switch {
	case child == nil:
		r.replyError(el, deny("modify", "bad-request", "", ""))
	case child.Name.Local == "destroy":
		err := r.Destroy(ctx, child.Get("jid"), child.ChildText("", "reason"), child.ChildText("", "password"))
		if err != nil {
			r.replyError(el, deny("cancel", "not-allowed", "", ""))
			return
		}
		r.Send(reply(el))
	case child.Name.Local == "x" && child.Name.Space == NSDataForms:
		r.processForm(ctx, el, child, from)
	default:
		r.replyError(el, deny("cancel", "service-unavailable", "", ""))
	}
}

// processForm applies a submitted configuration form (or an instant-room
// request: a submission without fields).
func (r *Room) processForm(ctx context.Context, el, x *stanza.Element, from jid.JID) {
	form, err := ParseForm(x)
	if err != nil {
		r.replyError(el, deny("cancel", "bad-request", "Not a submitted form", ""))
		return
	}
	switch form.Type {
	case "cancel":
		r.Send(reply(el))
		return
	case "submit":
	default:
		r.replyError(el, deny("cancel", "bad-request", "Not a submitted form", ""))
		return
	}
	var sub *Submission
	if len(x.Elements()) == 0 {
		sub = NewSubmission(NewForm("form", ""), form)
	} else {
		layout := r.ConfigForm(ctx, from)
		sub = NewSubmission(layout, form)
		if sub.String("FORM_TYPE") != NSRoomConfig {
			r.replyError(el, deny("cancel", "bad-request", "Form is not of type room configuration", ""))
			return
		}
	}
	ev := &ConfigSubmitEvent{Room: r, Actor: from, Stanza: el, Submission: sub, StatusCodes: map[string]bool{}}
	if err := r.svc.Events.ConfigSubmitted.Fire(ctx, ev); err != nil {
		r.veto(ctx, "muc-config-submitted", el, err)
		return
	}
	r.saveState(ctx)
	r.Send(reply(el))
	if len(ev.StatusCodes) > 0 {
		codes := make([]string, 0, len(ev.StatusCodes))
		for c := range ev.StatusCodes {
			codes = append(codes, c)
		}
		slices.Sort(codes)
		x := userX()
		for _, c := range codes {
			addStatus(x, c)
		}
		msg := stanza.New(stanza.NSClient, "message").Set("type", "groupchat").Set("from", r.jid).Add(x)
		r.broadcastMessage(ctx, msg)
	}
}

// Destroy destroys the room: every occupant gets unavailable presence with
// a <destroy/> (alternate venue newJID, reason, password), then the
// RoomDestroyed hooks run.
func (r *Room) Destroy(ctx context.Context, newJID, reason, password string) error {
	if r.gone {
		return ErrDestroyed
	}
	x := userX()
	d := stanza.New(NSUser, "destroy").Set("jid", newJID)
	if reason != "" {
		d.Add(stanza.New(NSUser, "reason").AddText(reason))
	}
	if password != "" {
		d.Add(stanza.New(NSUser, "password").AddText(password))
	}
	x.Add(d)
	r.destroying = true
	r.clear(ctx, x)
	r.fireDestroyed(ctx, &DestroyEvent{Room: r, Reason: reason, NewJID: newJID, Password: password})
	return nil
}

// clear removes everyone, telling them with x.
func (r *Room) clear(ctx context.Context, x *stanza.Element) {
	type gone struct {
		o    *Occupant
		prev Role
	}
	var all []gone
	for _, o := range r.Occupants() {
		all = append(all, gone{o, o.Role})
		o.Role = RoleNone
		r.saveOccupant(o)
	}
	for _, g := range all {
		r.publicise(ctx, g.o, xset{base: x}, publishOpts{prevRole: g.prev})
		r.fireLeft(ctx, g.o, nil)
	}
}

func (r *Room) fireDestroyed(ctx context.Context, ev *DestroyEvent) {
	if err := r.svc.Events.RoomDestroyed.Fire(ctx, ev); err != nil {
		r.svc.log.Error("muc-room-destroyed hook failed", "room", r.jid, "err", err)
	}
}

// MaybeDestroy asks for the room to go away on behalf of caller (a module
// name): it fires MaybeDestroyRoom, whose built-in handler destroys the
// room unless a handler before it keeps the room alive. It reports whether
// the room is gone or going.
func (r *Room) MaybeDestroy(ctx context.Context, reason, caller string) bool {
	if r.gone || r.destroying {
		return true
	}
	err := r.Service().Events.MaybeDestroyRoom.Fire(ctx, &MaybeDestroyEvent{Room: r, Reason: reason, Caller: caller})
	if err != nil && !errors.Is(err, hook.ErrStop) {
		r.Service().Logger().Warn("maybe-destroy-room handler failed", "room", r.jid, "err", err)
	}
	return r.gone || r.destroying
}
