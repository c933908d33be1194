package config_test

import (
	"fmt"

	"github.com/parley-xmpp/parley/config"
)

func Example() {
	src := `
admins = { "focus@auth.meet.example" }
c2s_require_encryption = true
modules_enabled = { "saslauth", "ping" }

VirtualHost "meet.example"
    authentication = "token"
    c2s_require_encryption = false

Component "conference.meet.example" "muc"
    admins = { "jvb@auth.meet.example" }
    modules_enabled = { "muc_meeting_id" }
`
	c, err := config.Parse("/etc/prosody/prosody.cfg.lua", []byte(src))
	if err != nil {
		fmt.Println(err)
		return
	}
	host := c.Host("meet.example")
	muc := c.Component("conference.meet.example")
	fmt.Println(c.String(host, "authentication", "internal_hashed"), c.Bool(host, "c2s_require_encryption", true))
	fmt.Println(muc.Type, c.Admins(muc))
	fmt.Println(c.Modules(muc))
	o, _ := c.Get(host, "authentication")
	fmt.Println(o.Pos)
	// Output:
	// token false
	// muc [jvb@auth.meet.example focus@auth.meet.example]
	// [muc iq s2s saslauth muc_meeting_id]
	// /etc/prosody/prosody.cfg.lua:7
}
