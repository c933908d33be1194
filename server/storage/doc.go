// Package storage keeps per-user and per-host data in Prosody's formats, so
// parley can take over a Prosody data directory (accounts, rosters) and
// Prosody can read what parley writes.
//
// A Store maps (host, store, user) to a Table, the Go form of a Lua table.
// Two kinds exist, named as in Prosody's `storage` option:
//
//   - "internal" (FileStore): Prosody's file layout from util/datamanager.lua,
//     data_path/<host>/<store>/<user>.dat, each file a Lua chunk
//     `return { ... };`. Files are read by parsing them with gopher-lua,
//     checking that they contain nothing but one literal table, and
//     evaluating that in a state with no libraries under a deadline
//     (UnmarshalLua). They are written by our own serializer, which mimics
//     util/serialization.lua (MarshalLua), atomically and with mode 0640.
//   - "memory" (MemoryStore): the same semantics in process memory.
//
// Numbers come back as float64 (see Table). Storage of lists (Prosody's
// *.list files, used by archives) is not implemented.
//
// LoadRoster and SaveRoster read and write rosters in the layout of Prosody's
// core/rostermanager.lua: contacts keyed by bare JID, and under the key false
// the roster version and the pending incoming subscription requests.
//
// The package does not import the server; the auth package builds its account
// providers on top of it.
package storage
