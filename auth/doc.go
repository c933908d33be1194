// Package auth implements the server side of SASL for client streams
// (RFC 6120 §6) and the account providers behind it, compatible with
// Prosody's:
//
//   - InternalHashed (Prosody's internal_hashed): accounts with SCRAM keys in
//     the "accounts" store, offering SCRAM-SHA-256, SCRAM-SHA-1 and PLAIN.
//   - InternalPlain (internal_plain): passwords in clear, same mechanisms.
//   - Anonymous (anonymous): SASL ANONYMOUS with random UUID usernames.
//
// A session asks a Provider for the Mechanisms to offer on a stream, Starts
// an Exchange for the mechanism the client picks and feeds it the client's
// messages with Step until it succeeds or returns a *Failure carrying an RFC
// 6120 §6.5 condition. The password providers also implement Accounts for
// the command line (register, passwd, deluser).
//
// # SCRAM over stored keys
//
// The SCRAM server (RFC 5802, RFC 7677) works from StoredKey and ServerKey,
// as Prosody stores them, and never needs the password. Channel binding is
// not offered: a client asking for it ("p=") is refused, "y" and "n" are
// accepted. For a user that does not exist the exchange still runs to the
// end, with a salt derived from a secret and the username (stable, and
// shaped like Prosody's UUID salts) and random keys, and fails with the same
// not-authorized as a wrong password.
//
// # Account format
//
// Accounts are those of Prosody's mod_auth_internal_hashed: salt (a UUID
// string), iteration_count, and hex stored_key and server_key for one hash
// (Prosody's password_hash, SHA-1 by default; the hash is recognised from
// the key length). To offer SCRAM-SHA-256 for SHA-1 accounts (and the
// reverse), parley stores the keys for the other hash as well, in
// stored_key_sha256 / server_key_sha256 (or stored_key_sha1 /
// server_key_sha1) with extra_keys_for naming the stored_key they go with.
// Prosody ignores these fields. Accounts created by Prosody lack them until
// the user logs in once with PLAIN (the keys are then added, as Prosody
// rehashes); until then SCRAM-SHA-256 fails for them with not-authorized,
// and clients fall back to SCRAM-SHA-1 or PLAIN. Plaintext passwords left in
// a hashed store are converted to keys on first use, as Prosody does.
//
// Usernames are normalised as JID localparts (PRECIS UsernameCaseMapped) and
// passwords with PRECIS OpaqueString, the successors of the nodeprep and
// SASLprep that Prosody applies; for ASCII they agree.
package auth
