package muc_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/parley-xmpp/parley/muc"
	"github.com/parley-xmpp/parley/muc/muctest"
	"github.com/parley-xmpp/parley/server/stanza"
)

// A room-creation policy is a muc-room-pre-create handler. This one lets
// only rooms named "team-*" be created and refuses others with a stanza
// error carrying an application-specific condition; the component sends
// exactly one error reply. Priority 99 runs it before the built-in checks,
// where Jitsi's token verification runs too.
func Example_roomCreationPolicy() {
	policy := func(s *muc.Service) error {
		s.Events.RoomPreCreate.On(99, "team_rooms", func(_ context.Context, ev *muc.RoomCreateEvent) error {
			if strings.HasPrefix(ev.Room.Node(), "team-") {
				return nil
			}
			return &muc.Deny{
				Type:      "cancel",
				Condition: "not-allowed",
				Text:      "Only team rooms may be created",
				App:       stanza.New("urn:example:policy", "team-rooms-only"),
			}
		})
		return nil
	}
	h, err := muctest.Open("", `modules_enabled = { "team_rooms" }`, muc.WithModule("team_rooms", policy))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer h.Close()

	alice := muctest.User("alice")
	h.Join(alice, muctest.Room("random")+"/alice")
	for _, el := range h.Sink.Take(alice) {
		e := el.Child("", "error")
		fmt.Println(el.Name.Local, el.Get("type"), e.Get("type"), e.FirstElement().Name.Local,
			e.ChildText(stanza.NSStanzas, "text"), e.Child("urn:example:policy", "team-rooms-only") != nil)
	}

	h.Join(alice, muctest.Room("team-blue")+"/alice")
	self := h.Sink.Take(alice)[0]
	fmt.Println(self.Get("from"), self.Child(muc.NSUser, "x").Child(muc.NSUser, "item").Get("affiliation"))
	// Output:
	// presence error cancel not-allowed Only team rooms may be created true
	// team-blue@conference.example.test/alice owner
}
