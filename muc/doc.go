// Package muc is parley's Multi-User Chat component (XEP-0045), modelled on
// Prosody 0.12/13's mod_muc and tuned for Jitsi Meet.
//
// A Service serves one `Component "conference.example.com" "muc"` section.
// cmd/parley registers it with
//
//	server.WithComponentType("muc", muc.Factory(opts...))
//
// # Concurrency
//
// Every Room is its own serialization domain: a mutex guards its state and
// every hook fired for the room runs while that mutex is held. Stanzas the
// room produces are put in the room's outbox and routed after the mutex is
// released, in order, by whichever goroutine drains the outbox; routing only
// enqueues to the recipients' writers. So no socket is written, and no other
// component is entered, while a room is locked, and a stanza that re-enters
// the same room (a session that closes as a slow consumer and sends its
// unavailable presence back) cannot deadlock.
//
// Room methods must be called with the room held: from a hook handler for
// that room, or through Service.Do.
//
// Lock order: a room's mutex, then the service's (room table) mutex, then
// module-private mutexes (the rate limiter's timer table). Nothing takes a
// room's mutex while holding the service's.
//
// # Hooks
//
// Service.Events holds one typed hook.Chain per Prosody MUC event, with
// Prosody's names and priorities. Built-in behaviour (password and ban
// checks, room defaults, locking, config form fields) is itself registered
// on those chains at Prosody's priorities, so Jitsi's modules interleave
// exactly as they do on Prosody. A pre-event handler vetoes by returning an
// error: a *Deny (or *server.StanzaError) makes the component send exactly
// one error reply; hook.ErrStop stops silently (the handler took the stanza
// over, as the jicofo lock does by queueing it).
//
// # Modules
//
// Modules named in the component's modules_enabled (muc_meeting_id,
// muc_rate_limit, ...) are loaded from the registry given with WithModule;
// there is no global registry.
package muc
