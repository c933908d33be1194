// strophe.js 5 over WebSocket and BOSH: anonymous and password logins,
// refusal, chat, and XEP-0198 resumption (strophe negotiates SM over
// WebSocket only).

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { needs, startParley } from '../lib/parley.js';
import { $iq, $msg, $pres, connect, disconnect, login, sendIQ, Strophe } from '../lib/strophe.js';

const users = [
    ['alice', 'e2e.test', 'alice-secret'],
    ['bob', 'e2e.test', 'bob-secret']
];

const transports = [
    { name: 'WebSocket', module: 'module websocket', url: p => p.wsURL() },
    { name: 'BOSH', module: 'module bosh', url: p => p.boshURL() }
];

for (const tr of transports) {
    const start = (t, extra = {}) => startParley(t, { config: 'basic.cfg.lua', users, requires: [tr.module], ...extra });

    test(`strophe.js ${tr.name}: anonymous login and ping`, needs(async t => {
        const p = await start(t);
        const conn = await connect(tr.url(p), 'anon.e2e.test');
        p.after(() => disconnect(conn));
        assert.equal(Strophe.getDomainFromJid(conn.jid), 'anon.e2e.test');
        assert.ok(Strophe.getNodeFromJid(conn.jid), 'a generated username');
        assert.ok(Strophe.getResourceFromJid(conn.jid), 'a bound resource');
        const res = await sendIQ(conn, $iq({ type: 'get', to: 'anon.e2e.test' }).c('ping', { xmlns: 'urn:xmpp:ping' }));
        assert.equal(res.getAttribute('type'), 'result');
    }));

    test(`strophe.js ${tr.name}: SCRAM password login`, needs(async t => {
        const p = await start(t);
        const conn = await connect(tr.url(p), 'alice@e2e.test/desk', 'alice-secret');
        p.after(() => disconnect(conn));
        assert.equal(conn.jid, 'alice@e2e.test/desk');
        assert.match(conn._sasl_mechanism.mechname, /^SCRAM-SHA-/);
    }));

    test(`strophe.js ${tr.name}: wrong password gives AUTHFAIL`, needs(async t => {
        const p = await start(t);
        await assert.rejects(connect(tr.url(p), 'alice@e2e.test', 'nope'), err => {
            assert.equal(err.status, Strophe.Status.AUTHFAIL);
            return true;
        });
    }));

    test(`strophe.js ${tr.name}: chat message between two users`, needs(async t => {
        const p = await start(t);
        const alice = await connect(tr.url(p), 'alice@e2e.test/a', 'alice-secret');
        p.after(() => disconnect(alice));
        const bob = await connect(tr.url(p), 'bob@e2e.test/b', 'bob-secret');
        p.after(() => disconnect(bob));
        bob.send($pres());
        alice.send($msg({ to: 'bob@e2e.test/b', type: 'chat', id: 'hi' }).c('body').t('over ' + tr.name));
        const m = await bob.inbox.next(el => el.tagName === 'message' && el.getAttribute('id') === 'hi', 'message');
        assert.equal(m.getAttribute('from'), 'alice@e2e.test/a');
        assert.equal(m.getElementsByTagName('body')[0].textContent, 'over ' + tr.name);
    }));
}

test('strophe.js WebSocket: XEP-0198 resumption after the socket drops', needs(async t => {
    const p = await startParley(t, { config: 'basic.cfg.lua', users, requires: ['module websocket'] });
    const alice = await connect(p.wsURL(), 'alice@e2e.test/a', 'alice-secret');
    p.after(() => disconnect(alice));
    const bob = await connect(p.wsURL(), 'bob@e2e.test/b', 'bob-secret', { enableStreamManagement: true });
    p.after(() => disconnect(bob));
    bob.send($pres());
    await waitUntil(() => bob.isStreamManagementEnabled(), 'SM enabled');
    const before = bob.jid;

    // Kill the socket under strophe, as a network blip would.
    const dropped = bob.statuses.next(s => s.status === Strophe.Status.DISCONNECTED || s.status === Strophe.Status.CONNFAIL, 'drop');
    bob._proto.socket.terminate?.() ?? bob._proto.socket.close();
    await dropped;
    alice.send($msg({ to: before, type: 'chat', id: 'away' }).c('body').t('while you were out'));

    await login(bob, 'bob@e2e.test/b', 'bob-secret');
    assert.ok(bob.hasResumed(), 'the session was resumed, not rebound');
    assert.equal(bob.jid, before);
    const m = await bob.inbox.next(el => el.tagName === 'message' && el.getAttribute('id') === 'away', 'missed message');
    assert.equal(m.getElementsByTagName('body')[0].textContent, 'while you were out');
}));

async function waitUntil(cond, what, ms = 5000) {
    const end = Date.now() + ms;
    while (!cond()) {
        if (Date.now() > end) {
            throw new Error(`timed out waiting for ${what}`);
        }
        await new Promise(r => setTimeout(r, 20));
    }
}
