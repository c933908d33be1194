// StanzaJS over WebSocket and BOSH: anonymous and password logins,
// refusal, chat, and XEP-0198 resumption (StanzaJS enables it on both).

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { needs, startParley } from '../lib/parley.js';
import { connect, disconnect } from '../lib/stanzajs.js';
import { withTimeout } from '../lib/util.js';

const users = [
    ['alice', 'e2e.test', 'alice-secret'],
    ['bob', 'e2e.test', 'bob-secret']
];

const transports = [
    { name: 'WebSocket', transport: 'websocket', module: 'module websocket', url: p => p.wsURL() },
    { name: 'BOSH', transport: 'bosh', module: 'module bosh', url: p => p.boshURL() }
];

for (const tr of transports) {
    const start = t => startParley(t, { config: 'basic.cfg.lua', users, requires: [tr.module] });
    const conn = (p, jid, password, resource, extra) =>
        connect({ transport: tr.transport, url: tr.url(p), jid, password, resource, extra });

    test(`StanzaJS ${tr.name}: anonymous login`, needs(async t => {
        const p = await start(t);
        const c = await conn(p, 'anon.e2e.test');
        p.after(() => disconnect(c));
        assert.match(c.jid, /^[^@]+@anon\.e2e\.test\/.+$/);
        // ping() rejects on an error reply.
        await withTimeout(c.ping('anon.e2e.test'), 5000, 'ping');
    }));

    test(`StanzaJS ${tr.name}: SCRAM password login with a chosen resource`, needs(async t => {
        const p = await start(t);
        const c = await conn(p, 'alice@e2e.test', 'alice-secret', 'tablet');
        p.after(() => disconnect(c));
        assert.equal(c.jid, 'alice@e2e.test/tablet');
    }));

    test(`StanzaJS ${tr.name}: wrong password emits auth:failed`, needs(async t => {
        const p = await start(t);
        await assert.rejects(conn(p, 'alice@e2e.test', 'bad'), err => {
            assert.equal(err.event, 'auth:failed');
            return true;
        });
    }));

    test(`StanzaJS ${tr.name}: chat message between two users`, needs(async t => {
        const p = await start(t);
        const alice = await conn(p, 'alice@e2e.test', 'alice-secret', 'a');
        p.after(() => disconnect(alice));
        const bob = await conn(p, 'bob@e2e.test', 'bob-secret', 'b');
        p.after(() => disconnect(bob));
        bob.sendPresence();
        alice.sendMessage({ to: 'bob@e2e.test/b', type: 'chat', id: 'sj1', body: `StanzaJS over ${tr.name}` });
        const m = await bob.inbox.next(s => s.kind === 'message' && s.id === 'sj1', 'message');
        assert.equal(m.from, 'alice@e2e.test/a');
        assert.equal(m.body, `StanzaJS over ${tr.name}`);
    }));

    test(`StanzaJS ${tr.name}: XEP-0198 resumption after the transport drops`, needs(async t => {
        const p = await start(t);
        const alice = await conn(p, 'alice@e2e.test', 'alice-secret', 'a');
        p.after(() => disconnect(alice));
        const bob = await conn(p, 'bob@e2e.test', 'bob-secret', 'b', { autoReconnect: true });
        p.after(() => disconnect(bob));
        bob.sendPresence();
        await waitUntil(() => bob.sm.started, 'SM enabled');
        assert.ok(bob.sm.id, 'a resumption id');
        const before = bob.jid;
        const resumed = withTimeout(new Promise(r => bob.once('stream:management:resumed', r)), 15000, 'resumed');
        // Drop the transport without ending the stream.
        if (tr.transport === 'websocket') {
            bob.transport.socket.terminate?.() ?? bob.transport.socket.close();
        } else {
            // Abandon the BOSH session (no terminate), as a closed tab would.
            bob.transport.disconnect(false);
        }
        alice.sendMessage({ to: before, type: 'chat', id: 'gone', body: 'sent while away' });
        await resumed;
        assert.equal(bob.jid, before);
        const m = await bob.inbox.next(s => s.kind === 'message' && s.id === 'gone', 'missed message');
        assert.equal(m.body, 'sent while away');
    }));
}

async function waitUntil(cond, what, ms = 5000) {
    const end = Date.now() + ms;
    while (!cond()) {
        if (Date.now() > end) {
            throw new Error(`timed out waiting for ${what}`);
        }
        await new Promise(r => setTimeout(r, 20));
    }
}
