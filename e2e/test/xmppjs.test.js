// @xmpp/client (xmpp.js) over TCP c2s and WebSocket: anonymous and
// password logins, refusal, chat, and XEP-0198 resumption after a dropped
// connection.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { client } from '@xmpp/client';

import { needs, startParley } from '../lib/parley.js';
import { withTimeout } from '../lib/util.js';
import { connect, ping, stop, xml } from '../lib/xmppjs.js';

const users = [
    ['alice', 'e2e.test', 'alice-secret'],
    ['bob', 'e2e.test', 'bob-secret']
];

const transports = [
    {
        name: 'TCP', requires: [],
        service: p => `xmpp://127.0.0.1:${p.c2sPort}`,
        drop: c => c.socket.destroy()
    },
    {
        name: 'WebSocket', requires: ['module websocket'],
        service: p => p.wsURL(),
        drop: c => c.socket.socket.terminate()
    }
];

for (const tr of transports) {
    const start = t => startParley(t, { config: 'basic.cfg.lua', users, requires: tr.requires });

    test(`xmpp.js ${tr.name}: anonymous login gets a random JID and answers ping`, needs(async t => {
        const p = await start(t);
        const c = await connect({ service: tr.service(p), domain: 'anon.e2e.test' });
        p.after(() => stop(c));
        assert.equal(c.jid.domain, 'anon.e2e.test');
        assert.match(c.jid.local, /^[0-9a-f-]{8,}$/);
        assert.ok(c.jid.resource, 'a resource is bound');
        const res = await ping(c, 'anon.e2e.test');
        assert.equal(res.attrs.type, 'result');
    }));

    test(`xmpp.js ${tr.name}: SCRAM-SHA-1 login with the requested resource`, needs(async t => {
        const p = await start(t);
        const c = await connect({
            service: tr.service(p), domain: 'e2e.test',
            username: 'alice', password: 'alice-secret', resource: 'laptop'
        });
        p.after(() => stop(c));
        assert.equal(c.jid.toString(), 'alice@e2e.test/laptop');
    }));

    test(`xmpp.js ${tr.name}: PLAIN login when the client picks it`, needs(async t => {
        const p = await start(t);
        let offered;
        const c = await connect({
            service: tr.service(p), domain: 'e2e.test',
            credentials: async (authenticate, mechanisms) => {
                offered = mechanisms;
                await authenticate({ username: 'bob', password: 'bob-secret' }, 'PLAIN');
            }
        });
        p.after(() => stop(c));
        assert.ok(offered.includes('PLAIN'), `PLAIN offered in ${offered}`);
        assert.equal(c.jid.bare().toString(), 'bob@e2e.test');
    }));

    test(`xmpp.js ${tr.name}: a wrong password is refused with not-authorized`, needs(async t => {
        const p = await start(t);
        const c = client({ service: tr.service(p), domain: 'e2e.test', username: 'alice', password: 'wrong' });
        c.on('error', () => {});
        c.reconnect.stop();
        p.after(() => stop(c));
        await assert.rejects(withTimeout(c.start(), 10000, 'refusal'), err => {
            assert.equal(err.name, 'SASLError');
            assert.equal(err.condition, 'not-authorized');
            return true;
        });
    }));

    test(`xmpp.js ${tr.name}: a chat message crosses between two accounts intact`, needs(async t => {
        const p = await start(t);
        const service = tr.service(p);
        const alice = await connect({ service, domain: 'e2e.test', username: 'alice', password: 'alice-secret', resource: 'a' });
        p.after(() => stop(alice));
        const bob = await connect({ service, domain: 'e2e.test', username: 'bob', password: 'bob-secret', resource: 'b' });
        p.after(() => stop(bob));
        await bob.send(xml('presence'));
        await alice.send(xml('message', { to: 'bob@e2e.test/b', type: 'chat', id: 'm1' },
            xml('body', {}, 'héllo <bob> & co'),
            xml('json-message', { xmlns: 'http://jitsi.org/jitmeet' }, '{"type":"x"}')));
        const msg = await bob.inbox.next(el => el.is('message') && el.attrs.id === 'm1', 'alice\'s message');
        assert.equal(msg.attrs.from, 'alice@e2e.test/a');
        assert.equal(msg.getChildText('body'), 'héllo <bob> & co');
        assert.equal(msg.getChild('json-message', 'http://jitsi.org/jitmeet').text(), '{"type":"x"}');
    }));

    test(`xmpp.js ${tr.name}: XEP-0198 resumes after the connection drops and delivers what was missed`, needs(async t => {
        const p = await start(t);
        const service = tr.service(p);
        const alice = await connect({ service, domain: 'e2e.test', username: 'alice', password: 'alice-secret', resource: 'a' });
        p.after(() => stop(alice));
        const bob = await connect({ service, domain: 'e2e.test', username: 'bob', password: 'bob-secret', resource: 'b' });
        p.after(() => stop(bob));
        await bob.send(xml('presence'));
        await waitUntil(() => bob.streamManagement.enabled, 'stream management enabled');
        assert.ok(bob.streamManagement.id, 'the server gave a resumption id');
        const jidBefore = bob.jid.toString();

        const resumed = new Promise(resolve => bob.streamManagement.once('resumed', resolve));
        bob.reconnect.delay = 200;
        // Drop the connection without closing the stream.
        tr.drop(bob);
        await alice.send(xml('message', { to: jidBefore, type: 'chat', id: 'while-away' }, xml('body', {}, 'missed you')));
        await withTimeout(resumed, 10000, 'XEP-0198 resumption');
        assert.equal(bob.jid.toString(), jidBefore, 'same full JID after resumption');
        const msg = await bob.inbox.next(el => el.is('message') && el.attrs.id === 'while-away', 'the message sent while away');
        assert.equal(msg.getChildText('body'), 'missed you');
        const res = await ping(bob, 'e2e.test');
        assert.equal(res.attrs.type, 'result');
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
