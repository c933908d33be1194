package jitsitest

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"github.com/parley-xmpp/parley/server/stanza"
)

// Jitsi namespaces the focus and the bridge use.
const (
	NSFocus       = "http://jitsi.org/protocol/focus"
	NSColibri     = "http://jitsi.org/protocol/colibri"
	NSColibri2    = "jitsi:colibri2"
	NSJingle      = "urn:xmpp:jingle:1"
	NSHealthCheck = "http://jitsi.org/protocol/healthcheck"
	// FocusNick is Jicofo's nick in every room and its resource.
	FocusNick = "focus"
	// RoomConfigWhois is the whois field Jicofo submits ("anyone").
	RoomConfigWhois = "muc#roomconfig_whois"
	// MeetingIDField is muc_meeting_id's form and disco field.
	MeetingIDField = "muc#roominfo_meetingId"
)

// JicofoConfig is what Jicofo's jicofo.xmpp.client section says.
type JicofoConfig struct {
	// Domain is the login domain (auth.D); the account is focus@Domain.
	Domain string
	// Password is focus's password.
	Password string
	// Brewery is the JVB brewery room (jvbbrewery@internal.auth.D).
	Brewery string
	// TLS is the STARTTLS client configuration (Docker: skip verify).
	TLS *tls.Config
	// Log receives debug output.
	Log *slog.Logger
}

// Jicofo is a Jicofo-shaped focus: logged in as focus@auth.D/focus with
// STARTTLS, SCRAM and XEP-0198, in the JVB brewery, answering conference
// requests forwarded by client_proxy by creating and configuring the room,
// and granting owner to participants.
type Jicofo struct {
	*Peer
	cfg JicofoConfig

	mu          sync.Mutex
	conferences map[string]*Conference // by room JID
}

// Conference is a room Jicofo runs.
type Conference struct {
	// Room is the room's bare JID.
	Room string
	// MeetingID is muc#roominfo_meetingId from the owner form.
	MeetingID string
	// Requester is the full JID that asked for it (through client_proxy).
	Requester string
	// Form is the owner configuration form the server offered.
	Form *stanza.Element
	// SelfPresence is the room's presence about the focus.
	SelfPresence *stanza.Element
	granted      map[string]bool
}

// StartJicofo logs in at the c2s address and joins the brewery.
func StartJicofo(ctx context.Context, addr string, cfg JicofoConfig) (*Jicofo, error) {
	c, err := Dial(ctx, addr, Config{Domain: cfg.Domain, User: "focus", Password: cfg.Password, Resource: FocusNick,
		TLS: cfg.TLS, StreamManagement: true, Log: cfg.Log})
	if err != nil {
		return nil, fmt.Errorf("jicofo: %w", err)
	}
	j := &Jicofo{cfg: cfg, conferences: map[string]*Conference{}}
	j.Peer = newPeer(c, j.handleIQ, j.onPresence)
	if cfg.Brewery != "" {
		if _, err := j.Join(ctx, cfg.Brewery, FocusNick); err != nil {
			_ = j.Close()
			return nil, fmt.Errorf("jicofo: joining the brewery: %w", err)
		}
		if _, err := j.Configure(ctx, cfg.Brewery, map[string]string{RoomConfigWhois: "anyone"}); err != nil {
			_ = j.Close()
			return nil, fmt.Errorf("jicofo: configuring the brewery: %w", err)
		}
	}
	return j, nil
}

// BareJID is focus@auth.D (what Jicofo puts in focusjid).
func (j *Jicofo) BareJID() string { return "focus@" + j.cfg.Domain }

func (j *Jicofo) handleIQ(ctx context.Context, iq *stanza.Element) *stanza.Element {
	if c := iq.Child(NSFocus, "conference"); c != nil && iq.Get("type") == "set" {
		return j.conference(ctx, iq, c)
	}
	return nil
}

// conference handles a conference request (ConferenceIqHandler): join the
// room as focus (creating it), check for owner, submit the config form,
// answer ready.
func (j *Jicofo) conference(ctx context.Context, iq, req *stanza.Element) *stanza.Element {
	room := req.Get("room")
	if room == "" || !strings.Contains(room, "@") {
		return ErrorReply(iq, "modify", "bad-request")
	}
	requester, _ := ParseProxyFrom(iq.Get("from"))
	j.mu.Lock()
	conf := j.conferences[room]
	j.mu.Unlock()
	if conf == nil {
		self, err := j.Join(ctx, room, FocusNick)
		if err != nil {
			j.Conn.log.Warn("jicofo: join failed", "room", room, "err", err)
			return ErrorReply(iq, "cancel", "internal-server-error")
		}
		if it := ItemOf(self); it.Affiliation != "owner" {
			j.Conn.log.Warn("jicofo: not owner", "room", room, "item", it)
			return ErrorReply(iq, "cancel", "not-allowed")
		}
		form, err := j.Configure(ctx, room, map[string]string{RoomConfigWhois: "anyone"})
		if err != nil {
			j.Conn.log.Warn("jicofo: configure failed", "room", room, "err", err)
			return ErrorReply(iq, "cancel", "internal-server-error")
		}
		conf = &Conference{Room: room, MeetingID: FormValue(form, MeetingIDField), Requester: requester, Form: form,
			SelfPresence: self, granted: map[string]bool{}}
		j.mu.Lock()
		j.conferences[room] = conf
		j.mu.Unlock()
		// Occupants that joined before the focus configured the room.
		for nick, pr := range j.Occupants(room) {
			j.maybeGrant(room, nick, pr)
		}
		j.Peer.mu.Lock()
		j.Peer.notifyLocked()
		j.Peer.mu.Unlock()
	}
	res := stanza.New(NSFocus, "conference").Set("room", room).Set("ready", "true").Set("focusjid", j.BareJID())
	for _, p := range [][2]string{{"authentication", "false"}, {"externalAuth", "false"}, {"sipGatewayEnabled", "false"}} {
		res.Add(stanza.New(NSFocus, "property").Set("name", p[0]).Set("value", p[1]))
	}
	return Result(iq).Add(res)
}

// Conference returns the conference Jicofo runs in room (nil if none).
func (j *Jicofo) Conference(room string) *Conference {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.conferences[room]
}

// onPresence grants owner to participants of its conferences (Jicofo with
// authentication, or auto-owner), from the reading goroutine.
func (j *Jicofo) onPresence(pr *stanza.Element) {
	if pr.Get("type") != "" {
		return
	}
	room, nick, ok := strings.Cut(pr.Get("from"), "/")
	if !ok {
		return
	}
	j.maybeGrant(room, nick, pr)
}

func (j *Jicofo) maybeGrant(room, nick string, pr *stanza.Element) {
	if nick == FocusNick {
		return
	}
	it := ItemOf(pr)
	bare, _, _ := strings.Cut(it.JID, "/")
	j.mu.Lock()
	conf := j.conferences[room]
	if conf == nil || bare == "" || it.Affiliation == "owner" || conf.granted[nick] {
		j.mu.Unlock()
		return
	}
	conf.granted[nick] = true
	j.mu.Unlock()
	j.wg.Add(1)
	go func() {
		defer j.wg.Done()
		q := stanza.New(NSMUCAdmin, "query").Add(stanza.New(NSMUCAdmin, "item").Set("affiliation", "owner").Set("jid", bare))
		res, err := j.Request(j.ctx, stanza.New(stanza.NSClient, "iq").Set("type", "set").Set("to", room).Add(q))
		if err != nil || res.Get("type") != "result" {
			j.Conn.log.Warn("jicofo: grant owner failed", "room", room, "nick", nick, "err", err, "res", res)
		}
	}()
}

// Bridge is a videobridge seen in the brewery.
type Bridge struct {
	// Occupant is its occupant JID in the brewery.
	Occupant string
	// Stats are the colibri stats of its latest presence.
	Stats map[string]string
}

// Bridges lists the brewery occupants that publish colibri stats.
func (v View) Bridges(brewery string) []Bridge {
	var out []Bridge
	for nick, pr := range v.Occupants(brewery) {
		if st := pr.Child(NSColibri, "stats"); st != nil {
			out = append(out, Bridge{Occupant: brewery + "/" + nick, Stats: ParseStats(st)})
		}
	}
	return out
}

// WaitBridge waits until a bridge's stats satisfy cond and returns it.
func (j *Jicofo) WaitBridge(ctx context.Context, cond func(Bridge) bool) (Bridge, error) {
	var found Bridge
	err := j.Wait(ctx, "a bridge in "+j.cfg.Brewery, func(v View) bool {
		for _, b := range v.Bridges(j.cfg.Brewery) {
			if cond(b) {
				found = b
				return true
			}
		}
		return false
	})
	return found, err
}

// Allocation is what Invite did for one participant.
type Allocation struct {
	// Disco is the participant's disco#info answer.
	Disco *stanza.Element
	// Colibri is the bridge's answer to conference-modify.
	Colibri *stanza.Element
	// Jingle is the participant's answer to session-initiate.
	Jingle *stanza.Element
}

// Invite does step 6 of JITSI.md §7 for occupant nick of room: disco#info
// to the occupant, a Colibri2 conference-modify to the bridge's brewery
// occupant JID, then Jingle session-initiate to the occupant. Every IQ
// goes through the MUC's occupant JIDs.
func (j *Jicofo) Invite(ctx context.Context, room, nick, bridge string) (Allocation, error) {
	var a Allocation
	conf := j.Conference(room)
	if conf == nil {
		return a, fmt.Errorf("jicofo: no conference in %s", room)
	}
	occ := room + "/" + nick
	q, err := j.DiscoInfo(ctx, occ)
	if err != nil {
		return a, err
	}
	a.Disco = q
	mod := stanza.New(NSColibri2, "conference-modify").Set("meeting-id", conf.MeetingID).
		Set("name", room).Set("create", "true").
		Add(stanza.New(NSColibri2, "endpoint").Set("id", nick).Set("create", "true"))
	res, err := j.Request(ctx, stanza.New(stanza.NSClient, "iq").Set("type", "set").Set("to", bridge).Add(mod))
	if err != nil {
		return a, err
	}
	if res.Get("type") != "result" || res.Get("from") != bridge {
		return a, fmt.Errorf("jicofo: colibri2 to %s: %s", bridge, res)
	}
	a.Colibri = res
	ji := stanza.New(NSJingle, "jingle").Set("action", "session-initiate").Set("sid", conf.MeetingID+"-"+nick).
		Set("initiator", j.JID())
	res, err = j.Request(ctx, stanza.New(stanza.NSClient, "iq").Set("type", "set").Set("to", occ).Add(ji))
	if err != nil {
		return a, err
	}
	if res.Get("type") != "result" || res.Get("from") != occ {
		return a, fmt.Errorf("jicofo: jingle to %s: %s", occ, res)
	}
	a.Jingle = res
	return a, nil
}
