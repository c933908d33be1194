package storage_test

import (
	"context"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/server/storage/prosodytest"
)

// readBackScript loads values with Prosody's util.datamanager and prints each
// one re-serialised by Prosody's util.serialization, followed by the user
// list Prosody sees for the "accounts" store of the first host.
// Arguments: data_path, then host store user triples ("-" = no user, or for
// the host, Prosody's global pseudo-host).
const readBackScript = `
local dm = preq("util.datamanager")
local serialize = preq("util.serialization").serialize
dm.set_data_path(arg[1])
local i = 2
while arg[i] do
	local host, store, user = arg[i], arg[i+1], arg[i+2]
	if user == "-" then user = nil end
	if host == "-" then host = nil end
	local data, err = dm.load(user, host, store)
	if data == nil then error("load failed: " .. tostring(err)) end
	io.write("return ", serialize(data), ";\n", "----\n")
	i = i + 3
end
local names = {}
for u in dm.users(arg[2], "accounts") do names[#names+1] = u end
table.sort(names)
io.write(table.concat(names, "\n"), "\n")
`

// TestProsodyReadsOurFiles writes tables with FileStore and has Prosody's own
// datamanager load them; Prosody's serialisation of what it loaded must read
// back (with our reader) to the same tables.
func TestProsodyReadsOurFiles(t *testing.T) {
	p := prosodytest.Find(t)
	t.Logf("Prosody %s, interpreter %s", p.Version, p.Interpreter)
	root := t.TempDir()
	s := storage.NewFileStore(root)
	ctx := context.Background()
	type entry struct {
		host, store, user string
		t                 storage.Table
	}
	roster := storage.NewRoster()
	roster.Items["bob@meet-x.example"] = &storage.RosterItem{JID: "bob@meet-x.example", Name: "Bøb \"B\"", Subscription: "both", Groups: []string{"Friends"}}
	roster.Pending["carol@meet-x.example"] = true
	roster.IncrementVersion()
	entries := []entry{
		{"meet-x.example", "accounts", "alice", storage.Table{
			"salt": "870a8a12-3a86-4701-8333-7afe70c91688", "iteration_count": 10000,
			"stored_key": "8c77560e256807a1ecdc157aa6059c88051584a4", "server_key": "05dff172caad4c96647edd5a028cbd2a5a3f3d7f",
		}},
		{"meet-x.example", "accounts", "we.ird-name%", storage.Table{"password": "p\x00\xff\n\"'\\]]"}},
		{"meet-x.example", "roster", "alice", roster.Table()},
		{"meet-x.example", "misc_store", "", storage.Table{
			"inf": math.Inf(1), "ninf": math.Inf(-1), "frac": 0.1, "third": 1.0 / 3, "neg": -42,
			"big": float64(1 << 60), "list": storage.Table{1: "a", 2: "b", 3: storage.Table{1: true}, 7: "seven"},
			false: storage.Table{"nested": storage.Table{"deeper": storage.Table{}}}, true: "yes",
			float64(-1.5): "negative key",
		}},
		{"", "global_store", "u", storage.Table{"x": "global"}},
	}
	args := []string{root}
	for _, e := range entries {
		if err := s.Set(ctx, e.host, e.store, e.user, e.t); err != nil {
			t.Fatal(err)
		}
		user := e.user
		if user == "" {
			user = "-"
		}
		host := e.host
		if host == "" {
			host = "-" // Prosody's global pseudo-host is host = nil
		}
		args = append(args, host, e.store, user)
	}
	out := p.Run(t, readBackScript, args...)
	parts := strings.Split(out, "----\n")
	if len(parts) != len(entries)+1 {
		t.Fatalf("script printed %d parts, want %d:\n%s", len(parts), len(entries), out)
	}
	for i, e := range entries {
		t.Run(e.store+"/"+e.user, func(t *testing.T) {
			got, err := storage.UnmarshalLua(ctx, []byte(parts[i]))
			if err != nil {
				t.Fatalf("reading Prosody's output %q: %v", parts[i], err)
			}
			want, err := s.Get(ctx, e.host, e.store, e.user)
			if err != nil {
				t.Fatal(err)
			}
			if !equalWithNaN(got, want) {
				t.Fatalf("Prosody loaded something else:\nprosody %#v\nours    %#v", got, want)
			}
		})
	}
	users := strings.Fields(parts[len(parts)-1])
	if want := []string{"alice", "we.ird-name%"}; !reflect.DeepEqual(users, want) {
		t.Fatalf("Prosody's users() = %q, want %q", users, want)
	}
}

// writeScript stores a table with Prosody's datamanager.
const writeScript = `
local dm = preq("util.datamanager")
dm.set_data_path(arg[1])
local data = {
	int = 10000, neg = -7, frac = 0.1, third = 1/3, big = 2^60,
	inf = 1/0, ninf = -1/0, str = "\0\255\n\"'\\ zoë",
	list = { "a", "b", { true } }, [false] = { version = 3, pending = {} },
	[2.5] = "float key", [true] = false,
}
assert(dm.store("we.ird-user", "host-1.example", "some_store", data))
`

// TestWeReadProsodyFiles has Prosody's datamanager write a table with awkward
// values, then checks what FileStore reads.
func TestWeReadProsodyFiles(t *testing.T) {
	p := prosodytest.Find(t)
	root := t.TempDir()
	p.Run(t, writeScript, root)
	s := storage.NewFileStore(root)
	got, err := s.Get(context.Background(), "host-1.example", "some_store", "we.ird-user")
	if err != nil {
		t.Fatal(err)
	}
	want := storage.Table{
		"int": float64(10000), "neg": float64(-7), "frac": 0.1, "third": 1.0 / 3, "big": float64(1 << 60),
		"inf": math.Inf(1), "ninf": math.Inf(-1), "str": "\x00\xff\n\"'\\ zoë",
		"list": storage.Table{float64(1): "a", float64(2): "b", float64(3): storage.Table{float64(1): true}},
		false:  storage.Table{"version": float64(3), "pending": storage.Table{}},
		2.5:    "float key",
		true:   false,
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("read:\n got %#v\nwant %#v", got, want)
	}
	users, err := s.Users(context.Background(), "host-1.example", "some_store")
	if err != nil || !reflect.DeepEqual(users, []string{"we.ird-user"}) {
		t.Fatalf("Users = %q, %v", users, err)
	}
}
