// Token (JWT) logins with the Node XMPP libraries over WebSocket and BOSH
// (the token rides in the URL, as lib-jitsi-meet sends it), the refusals
// as each library surfaces them, and the MUC's room check.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { client } from '@xmpp/client';

import { meet, token } from '../lib/jitsi.js';
import { needs, startParley } from '../lib/parley.js';
import * as sj from '../lib/stanzajs.js';
import * as st from '../lib/strophe.js';
import { randomName, withTimeout } from '../lib/util.js';
import { connect as xconnect, stop as xstop, xml } from '../lib/xmppjs.js';

const base = ['authentication provider token', 'component type muc'];
const start = (t, transport) => startParley(t, { config: 'jitsi.cfg.lua', requires: [...base, `module ${transport}`] });
const url = (p, transport, query) => (transport === 'websocket' ? p.wsURL(query) : p.boshURL(query));
const q = (room, jwt) => `?room=${encodeURIComponent(room)}${jwt ? `&token=${jwt}` : ''}`;
const forged = room => token(room, { name: 'Forger' }, {}, 'wrong-secret');

for (const transport of ['websocket', 'bosh']) {
    const T = transport === 'websocket' ? 'WebSocket' : 'BOSH';

    test(`strophe.js ${T}: token login, and a forged token refused with its reason`, needs(async t => {
        const p = await start(t, transport);
        const room = randomName('r');
        const conn = await st.connect(url(p, transport, q(room, token(room))), meet.domain);
        p.after(() => st.disconnect(conn));
        assert.equal(st.Strophe.getDomainFromJid(conn.jid), meet.domain);
        assert.match(st.Strophe.getNodeFromJid(conn.jid), /^[0-9a-f-]{36}$/, 'a UUID username');

        await assert.rejects(st.connect(url(p, transport, q(room, forged(room))), meet.domain), err => {
            assert.equal(err.status, st.Strophe.Status.AUTHFAIL);
            const failure = err.elem;
            assert.equal(failure?.tagName, 'failure', 'strophe hands over the SASL failure');
            assert.ok(failure.getElementsByTagName('not-allowed').length, 'condition not-allowed');
            assert.ok(failure.getElementsByTagName('text')[0]?.textContent, 'a reason text');
            return true;
        });
        await assert.rejects(st.connect(url(p, transport, q(room)), meet.domain), err => {
            assert.equal(err.status, st.Strophe.Status.AUTHFAIL, 'no token, no login (allow_empty_token = false)');
            return true;
        });
    }));

    test(`StanzaJS ${T}: token login, and a forged token gives auth:failed`, needs(async t => {
        const p = await start(t, transport);
        const room = randomName('r');
        const c = await sj.connect({ transport, url: url(p, transport, q(room, token(room))), jid: meet.domain });
        p.after(() => sj.disconnect(c));
        assert.match(c.jid, /@meet\.e2e\.test\//);
        await assert.rejects(sj.connect({ transport, url: url(p, transport, q(room, forged(room))), jid: meet.domain }), err => {
            assert.equal(err.event, 'auth:failed');
            return true;
        });
    }));
}

test('xmpp.js WebSocket: token login, and a forged token refused as SASLError not-allowed with text', needs(async t => {
    const p = await start(t, 'websocket');
    const room = randomName('r');
    const c = await xconnect({ service: p.wsURL(q(room, token(room))), domain: meet.domain });
    p.after(() => xstop(c));
    assert.equal(c.jid.domain, meet.domain);

    const bad = client({ service: p.wsURL(q(room, forged(room))), domain: meet.domain });
    bad.on('error', () => {});
    bad.reconnect.stop();
    p.after(() => xstop(bad));
    await assert.rejects(withTimeout(bad.start(), 10000, 'refusal'), err => {
        assert.equal(err.name, 'SASLError');
        assert.equal(err.condition, 'not-allowed');
        assert.ok(err.text, `the server's reason, got ${JSON.stringify(err.text)}`);
        return true;
    });
}));

test('xmpp.js WebSocket: the MUC refuses a token for another room with not-allowed', needs(async t => {
    const p = await start(t, 'websocket');
    p.require('component type dev_focus');
    const room = randomName('r');
    const roomJID = `${room}@${meet.muc}`;
    const c = await xconnect({ service: p.wsURL(q(room, token('elsewhere'))), domain: meet.domain });
    p.after(() => xstop(c));
    const res = await c.iqCaller.request(xml('iq', { type: 'set', to: meet.focus },
        xml('conference', { xmlns: 'http://jitsi.org/protocol/focus', room: roomJID, 'machine-uid': 'e2e' })));
    assert.equal(res.getChild('conference').attrs.ready, 'true');
    await c.send(xml('presence', { to: `${roomJID}/${c.jid.local.slice(0, 8)}` }, xml('x', 'http://jabber.org/protocol/muc')));
    const err = await c.inbox.next(el => el.is('presence') && el.attrs.type === 'error', 'presence error');
    const e = err.getChild('error');
    assert.equal(e.attrs.type, 'cancel');
    assert.ok(e.getChild('not-allowed', 'urn:ietf:params:xml:ns:xmpp-stanzas'), `not-allowed in ${err}`);
    assert.equal(e.getChildText('text', 'urn:ietf:params:xml:ns:xmpp-stanzas'), 'Room and token mismatched');
}));
