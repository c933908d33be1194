package jitsi

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"

	"mellium.im/xmpp/jid"

	"github.com/parley-xmpp/parley/server"
	"github.com/parley-xmpp/parley/server/stanza"
)

// ClientProxyType is the component type of Jitsi's client_proxy, as in
// `Component "focus.example.com" "client_proxy"`.
const ClientProxyType = "client_proxy"

// OptTargetAddress is the client_proxy option naming the account the
// proxy forwards to (jicofo's focus@auth.example.com).
const OptTargetAddress = "target_address"

// ClientProxy is Jitsi's mod_client_proxy: a component that lets clients
// reach jicofo without knowing its resource. IQ requests addressed to the
// component (or any JID under it) go to one online resource of the target
// account, with the sender encoded in the resource of the new from address
// (focus.example.com/<sender's full JID>); the target's results and errors
// addressed to such a JID go back to the encoded sender, from the bare
// component domain. The id is left as it is, as the Lua module does.
//
// Differences from the Lua module: the target's online resources come from
// the server's session table instead of presence (so no roster
// subscription between the target and the component is needed), and no
// error is ever sent in reply to an error or an IQ result (RFC 6120 §8.3.1).
type ClientProxy struct {
	srv    *server.Server
	domain string
	target jid.JID
	log    *slog.Logger
}

var _ server.Component = (*ClientProxy)(nil)

// ClientProxyFactory returns the server.ComponentFactory for client_proxy
// sections; register it with server.WithComponentType(ClientProxyType, ...).
func ClientProxyFactory() server.ComponentFactory {
	return componentFactory(NewClientProxy)
}

// NewClientProxy builds the proxy of one component section; the section
// (or the global one) must set target_address to a bare JID.
func NewClientProxy(ch *server.ComponentHost) (*ClientProxy, error) {
	o, ok := ch.Server.Config().Get(ch.Config, OptTargetAddress)
	if !ok {
		return nil, fmt.Errorf("jitsi: client_proxy %s: %s is not set", ch.Name, OptTargetAddress)
	}
	s, err := o.AsString()
	if err != nil {
		return nil, fmt.Errorf("jitsi: client_proxy %s: %w", ch.Name, err)
	}
	target, err := jid.Parse(s)
	if err != nil || target.Localpart() == "" || target.Resourcepart() != "" {
		return nil, fmt.Errorf("jitsi: client_proxy %s: %s %q is not a bare user@host JID", ch.Name, OptTargetAddress, s)
	}
	p := &ClientProxy{
		srv:    ch.Server,
		domain: ch.Name,
		target: target,
		log:    ch.Server.Logger().With("component", ClientProxyType, "host", ch.Name),
	}
	p.log.Debug("client proxy loaded", "target", target.String())
	return p, nil
}

// Target returns the bare JID the proxy forwards to.
func (p *ClientProxy) Target() jid.JID { return p.target }

// Deliver implements server.Component.
func (p *ClientProxy) Deliver(ctx context.Context, el *stanza.Element) {
	from, err := jid.Parse(el.Get("from"))
	if err != nil {
		return
	}
	to, err := jid.Parse(el.Get("to"))
	if err != nil {
		return
	}
	if from.Bare().Equal(p.target) {
		p.fromTarget(ctx, el, to)
		return
	}
	p.toTarget(ctx, el, from)
}

// fromTarget handles what the target (jicofo) sends to the component.
func (p *ClientProxy) fromTarget(ctx context.Context, el *stanza.Element, to jid.JID) {
	typ := el.Get("type")
	if to.Resourcepart() == "" {
		// The Lua module tracks the target's resources from the presence it
		// gets here; the session table makes that unnecessary.
		if el.Name.Local != "presence" {
			p.reply(ctx, el, "cancel", "bad-request")
		}
		return
	}
	switch el.Name.Local {
	case "iq":
		if typ != "result" && typ != "error" {
			// Requests from the target to clients are not proxied.
			p.reply(ctx, el, "cancel", "feature-not-implemented")
			return
		}
		orig, err := jid.Parse(to.Resourcepart())
		if err != nil {
			p.log.Debug("cannot de-NAT a reply: bad encoded address", "to", el.Get("to"))
			return
		}
		el.Set("from", p.domain)
		el.Set("to", orig.String())
		p.srv.Route(ctx, el)
	case "message":
		p.reply(ctx, el, "cancel", "feature-not-implemented")
	}
}

// toTarget handles what anyone else sends to the component.
func (p *ClientProxy) toTarget(ctx context.Context, el *stanza.Element, from jid.JID) {
	typ := el.Get("type")
	switch el.Name.Local {
	case "presence":
		p.reply(ctx, el, "cancel", "bad-request")
	case "message":
		p.reply(ctx, el, "cancel", "feature-not-implemented")
	case "iq":
		if typ != "get" && typ != "set" {
			return
		}
		resource, ok := p.pickResource()
		if !ok {
			p.log.Debug("no target session to forward to", "from", from.String())
			p.reply(ctx, el, "cancel", "service-unavailable")
			return
		}
		el.Set("from", p.domain+"/"+from.String())
		el.Set("to", p.target.String()+"/"+resource)
		p.srv.Route(ctx, el)
	}
}

// pickResource returns the resource of a random bound session of the
// target, as the Lua module picks a random known resource.
func (p *ClientProxy) pickResource() (string, bool) {
	sessions := p.srv.Router().Sessions(p.target.String())
	resources := make([]string, 0, len(sessions))
	for _, s := range sessions {
		if r := s.JID().Resourcepart(); r != "" {
			resources = append(resources, r)
		}
	}
	if len(resources) == 0 {
		return "", false
	}
	return resources[rand.IntN(len(resources))], true
}

// reply sends a stanza error back to el's sender, from the address el was
// sent to; errors and IQ results are never answered.
func (p *ClientProxy) reply(ctx context.Context, el *stanza.Element, typ, cond string) {
	switch el.Get("type") {
	case "error", "result":
		return
	}
	p.srv.Route(ctx, server.ErrorReply(el, typ, cond, ""))
}
