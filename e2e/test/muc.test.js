// MUC (XEP-0045) with @xmpp/client over TCP: room creation, join, chat,
// owner configuration, and Jitsi's presence extensions passing through
// the room untouched.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { needs, startParley } from '../lib/parley.js';
import { randomName } from '../lib/util.js';
import { connect, stop, xml } from '../lib/xmppjs.js';

const MUC = 'http://jabber.org/protocol/muc';
const MUC_USER = 'http://jabber.org/protocol/muc#user';
const MUC_OWNER = 'http://jabber.org/protocol/muc#owner';
const DATA = 'jabber:x:data';

const users = [
    ['alice', 'e2e.test', 'alice-secret'],
    ['bob', 'e2e.test', 'bob-secret']
];

async function setup(t) {
    const p = await startParley(t, { config: 'basic.cfg.lua', users, requires: ['component type muc'] });
    const service = `xmpp://127.0.0.1:${p.c2sPort}`;
    const alice = await connect({ service, domain: 'e2e.test', username: 'alice', password: 'alice-secret', resource: 'a' });
    p.after(() => stop(alice));
    const bob = await connect({ service, domain: 'e2e.test', username: 'bob', password: 'bob-secret', resource: 'b' });
    p.after(() => stop(bob));
    return { p, alice, bob, room: `${randomName('room')}@conference.e2e.test` };
}

function selfPresence(c, room) {
    return c.inbox.next(el => el.is('presence') && el.attrs.from?.startsWith(`${room}/`)
        && el.getChild('x', MUC_USER)?.getChildren('status').some(s => s.attrs.code === '110'), `self-presence from ${room}`);
}

function item(pres) {
    return pres.getChild('x', MUC_USER).getChild('item').attrs;
}

function codes(pres) {
    return pres.getChild('x', MUC_USER).getChildren('status').map(s => s.attrs.code);
}

test('MUC: the first occupant creates the room and becomes its owner', needs(async t => {
    const { alice, room } = await setup(t);
    await alice.send(xml('presence', { to: `${room}/alice` }, xml('x', MUC)));
    const self = await selfPresence(alice, room);
    assert.ok(codes(self).includes('201'), `status 201 (room created) in ${codes(self)}`);
    assert.equal(item(self).affiliation, 'owner');
    assert.equal(item(self).role, 'moderator');
}));

test('MUC: a second occupant sees the first, and a groupchat message reaches both', needs(async t => {
    const { alice, bob, room } = await setup(t);
    await alice.send(xml('presence', { to: `${room}/alice` }, xml('x', MUC)));
    await selfPresence(alice, room);
    await bob.send(xml('presence', { to: `${room}/bob` }, xml('x', MUC)));
    const bobSelf = await selfPresence(bob, room);
    assert.equal(item(bobSelf).affiliation, 'none');
    assert.equal(item(bobSelf).role, 'participant');
    const aliceSeen = await bob.inbox.next(el => el.is('presence') && el.attrs.from === `${room}/alice`, 'alice in the room');
    assert.equal(item(aliceSeen).affiliation, 'owner');
    const bobSeen = await alice.inbox.next(el => el.is('presence') && el.attrs.from === `${room}/bob`, 'bob joining');
    assert.equal(item(bobSeen).jid, 'bob@e2e.test/b', 'a moderator sees real JIDs');

    await bob.send(xml('message', { to: room, type: 'groupchat', id: 'g1' }, xml('body', {}, 'hi room')));
    for (const c of [alice, bob]) {
        const m = await c.inbox.next(el => el.is('message') && el.attrs.type === 'groupchat' && el.getChildText('body') === 'hi room', 'groupchat');
        assert.equal(m.attrs.from, `${room}/bob`);
    }
}));

test('MUC: the owner reads and submits the configuration form; others may not', needs(async t => {
    const { alice, bob, room } = await setup(t);
    await alice.send(xml('presence', { to: `${room}/alice` }, xml('x', MUC)));
    await selfPresence(alice, room);
    await bob.send(xml('presence', { to: `${room}/bob` }, xml('x', MUC)));
    await selfPresence(bob, room);

    const form = await alice.iqCaller.request(xml('iq', { type: 'get', to: room }, xml('query', MUC_OWNER)));
    const fields = form.getChild('query', MUC_OWNER).getChild('x', DATA).getChildren('field').map(f => f.attrs.var);
    for (const v of ['FORM_TYPE', 'muc#roomconfig_roomname', 'muc#roomconfig_whois', 'muc#roomconfig_roomsecret']) {
        assert.ok(fields.includes(v), `${v} in the form`);
    }

    const whoisField = form.getChild('query', MUC_OWNER).getChild('x', DATA).getChildren('field')
        .find(f => f.attrs.var === 'muc#roomconfig_whois');
    const current = whoisField.getChildText('value');
    assert.ok(['anyone', 'moderators'].includes(current), `whois is ${current}`);
    const submit = (name, whois) => alice.iqCaller.request(xml('iq', { type: 'set', to: room },
        xml('query', MUC_OWNER, xml('x', { xmlns: DATA, type: 'submit' },
            xml('field', { var: 'FORM_TYPE' }, xml('value', {}, 'http://jabber.org/protocol/muc#roomconfig')),
            xml('field', { var: 'muc#roomconfig_roomname' }, xml('value', {}, name)),
            xml('field', { var: 'muc#roomconfig_whois' }, xml('value', {}, whois))))));
    const notice = code => bob.inbox.next(el => el.is('message') && el.attrs.from === room
        && el.getChild('x', MUC_USER)?.getChildren('status').some(s => s.attrs.code === code), `status ${code} notice`);
    // Flip whois both ways: the room announces 173 (semi-anonymous) and
    // 172 (non-anonymous) to the occupants.
    const [first, second] = current === 'anyone' ? [['moderators', '173'], ['anyone', '172']] : [['anyone', '172'], ['moderators', '173']];
    await submit('E2E room', first[0]);
    await notice(first[1]);
    await submit('E2E room', second[0]);
    await notice(second[1]);
    await submit('E2E room', 'anyone');

    await assert.rejects(bob.iqCaller.request(xml('iq', { type: 'get', to: room }, xml('query', MUC_OWNER))), err => {
        assert.equal(err.condition, 'forbidden');
        return true;
    });

    const info = await bob.iqCaller.request(xml('iq', { type: 'get', to: room }, xml('query', 'http://jabber.org/protocol/disco#info')));
    const identity = info.getChild('query').getChild('identity');
    assert.equal(identity.attrs.name, 'E2E room');
    const features = info.getChild('query').getChildren('feature').map(f => f.attrs.var);
    assert.ok(features.includes('muc_nonanonymous'), `muc_nonanonymous in ${features}`);
}));

test('MUC: Jitsi presence extensions reach other occupants unchanged', needs(async t => {
    const { alice, bob, room } = await setup(t);
    await alice.send(xml('presence', { to: `${room}/alice` }, xml('x', MUC)));
    await selfPresence(alice, room);
    const ext = () => [
        xml('nick', 'http://jabber.org/protocol/nick', 'Bob Display'),
        xml('stats-id', {}, 'Bob-42'),
        xml('c', { xmlns: 'http://jabber.org/protocol/caps', hash: 'sha-1', node: 'https://jitsi.org/jitsi-meet', ver: 'cvjWXufsg4xT62Ec2mlATkFZ9lk=' }),
        xml('features', {}, xml('feature', { var: 'http://jitsi.org/protocol/ssrc-rewriting-1' })),
        xml('jitsi_participant_codecList', {}, 'vp9,vp8,h264'),
        xml('audiomuted', {}, 'true'),
        xml('videomuted', {}, 'false'),
        xml('SourceInfo', {}, '{"abc-a0":{"muted":true}}'),
        xml('jitsi_participant_region', {}, 'e2e-region')
    ];
    await bob.send(xml('presence', { to: `${room}/bob` }, xml('x', MUC), ...ext()));
    const seen = await alice.inbox.next(el => el.is('presence') && el.attrs.from === `${room}/bob`, 'bob\'s presence');
    assert.equal(seen.getChildText('nick', 'http://jabber.org/protocol/nick'), 'Bob Display');
    assert.equal(seen.getChildText('stats-id'), 'Bob-42');
    assert.equal(seen.getChild('c', 'http://jabber.org/protocol/caps').attrs.ver, 'cvjWXufsg4xT62Ec2mlATkFZ9lk=');
    assert.equal(seen.getChild('features').getChild('feature').attrs.var, 'http://jitsi.org/protocol/ssrc-rewriting-1');
    assert.equal(seen.getChildText('jitsi_participant_codecList'), 'vp9,vp8,h264');
    assert.equal(seen.getChildText('audiomuted'), 'true');
    assert.equal(seen.getChildText('videomuted'), 'false');
    assert.equal(seen.getChildText('SourceInfo'), '{"abc-a0":{"muted":true}}');
    assert.equal(seen.getChildText('jitsi_participant_region'), 'e2e-region');
    assert.equal(seen.getChild('x', MUC), undefined, 'the join <x/> is not echoed');

    // A presence update (unmute) is broadcast with the change.
    await bob.send(xml('presence', { to: `${room}/bob` }, ...ext().map(e => (e.name === 'audiomuted' ? xml('audiomuted', {}, 'false') : e))));
    const update = await alice.inbox.next(el => el.is('presence') && el.attrs.from === `${room}/bob`
        && el.getChildText('audiomuted') === 'false', 'bob\'s unmute');
    assert.equal(update.getChildText('stats-id'), 'Bob-42');
}));

test('MUC: leaving is broadcast with status 110 to the leaver', needs(async t => {
    const { alice, bob, room } = await setup(t);
    await alice.send(xml('presence', { to: `${room}/alice` }, xml('x', MUC)));
    await selfPresence(alice, room);
    await bob.send(xml('presence', { to: `${room}/bob` }, xml('x', MUC)));
    await selfPresence(bob, room);
    await bob.send(xml('presence', { to: `${room}/bob`, type: 'unavailable' }));
    const gone = await alice.inbox.next(el => el.is('presence') && el.attrs.from === `${room}/bob` && el.attrs.type === 'unavailable', 'bob leaving');
    assert.equal(item(gone).role, 'none');
    const own = await bob.inbox.next(el => el.is('presence') && el.attrs.from === `${room}/bob` && el.attrs.type === 'unavailable', 'own leave');
    assert.ok(codes(own).includes('110'));
}));
