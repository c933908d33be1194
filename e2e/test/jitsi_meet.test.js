// lib-jitsi-meet (the @lyno/lib-jitsi-meet bundle) in headless Chromium
// against parley with the dev focus: the join sequence of JITSI.md §7 with
// tokens, over WebSocket and BOSH, and the refusals lib-jitsi-meet reports.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { eventTypes, launchBrowser, openParticipant, servePages, waitEvent } from '../lib/browser.js';
import { meet, token } from '../lib/jitsi.js';
import { needs, startParley } from '../lib/parley.js';
import { randomName } from '../lib/util.js';

const requires = ['module websocket', 'module bosh', 'component type muc', 'component type dev_focus', 'authentication provider token'];

async function setup(t) {
    const p = await startParley(t, { config: 'jitsi.cfg.lua', requires });
    const browser = await launchBrowser(t);
    const base = await servePages(t);
    return { p, browser, base, room: randomName('meeting') };
}

async function waitConsole(page, re, ms = 20000) {
    const deadline = Date.now() + ms;
    while (!page.consoleLines.some(l => re.test(l))) {
        if (Date.now() > deadline) {
            throw new Error(`no console line matching ${re}:\n  ${page.consoleLines.slice(-15).join('\n  ')}`);
        }
        await new Promise(r => setTimeout(r, 100));
    }
}

// The options jitsi-meet gives lib-jitsi-meet (config.js hosts, the
// service URL with ?room=, the JWT).
function joinOptions(serviceUrl, room, name, jwt) {
    return {
        serviceUrl,
        token: jwt,
        domain: meet.domain,
        anonymousdomain: meet.guest,
        muc: meet.muc,
        focus: meet.focus,
        room,
        displayName: name
    };
}

test('lib-jitsi-meet: two participants join over WebSocket with tokens, see each other and chat', needs(async t => {
    const { p, browser, base, room } = await setup(t);
    const ws = p.wsURL(`?room=${room}`);
    const alice = await openParticipant(browser, base);
    const bob = await openParticipant(browser, base);

    await alice.evaluate(o => window.join(o), joinOptions(ws, room, 'Alice', token(room, { name: 'Alice' })));
    const aliceJoined = await waitEvent(alice, 'conference-joined');
    const aliceConn = await waitEvent(alice, 'connection-established');
    assert.match(aliceConn.jid, /@meet\.e2e\.test\//, 'a token user lives on the main domain');

    await bob.evaluate(o => window.join(o), joinOptions(ws, room, 'Bob', token(room, { name: 'Bob' })));
    const bobJoined = await waitEvent(bob, 'conference-joined');
    assert.notEqual(aliceJoined.myUserId, bobJoined.myUserId);

    // Each sees the other join.
    const seenByAlice = await waitEvent(alice, 'user-joined', d => d.id === bobJoined.myUserId);
    const seenByBob = await waitEvent(bob, 'user-joined', d => d.id === aliceJoined.myUserId);
    // The display names (the <nick/> of the join presence) come with them.
    assert.equal(seenByAlice.displayName, 'Bob');
    assert.equal(seenByBob.displayName, 'Alice');

    // The focus grants owner to token users (Jicofo with JWT auth).
    await waitEvent(alice, 'user-role-changed', d => d.self && d.role === 'moderator');
    await waitEvent(bob, 'user-role-changed', d => d.self && d.role === 'moderator');

    // A chat message crosses both ways.
    await alice.evaluate(() => window.sendText('hello from Alice'));
    const got = await waitEvent(bob, 'message-received', d => d.text === 'hello from Alice');
    assert.equal(got.id, aliceJoined.myUserId);
    await bob.evaluate(() => window.sendText('and back from Bob'));
    await waitEvent(alice, 'message-received', d => d.text === 'and back from Bob' && d.id === bobJoined.myUserId);

    // Leaving is seen by the other participant.
    await bob.evaluate(() => window.leave());
    await waitEvent(alice, 'user-left', d => d.id === bobJoined.myUserId);
}));

test('lib-jitsi-meet: a BOSH participant meets a WebSocket participant', needs(async t => {
    const { p, browser, base, room } = await setup(t);
    const alice = await openParticipant(browser, base);
    const bob = await openParticipant(browser, base);
    await alice.evaluate(o => window.join(o), joinOptions(p.wsURL(`?room=${room}`), room, 'Alice', token(room, { name: 'Alice' })));
    const a = await waitEvent(alice, 'conference-joined');
    await bob.evaluate(o => window.join(o), joinOptions(p.boshURL(`?room=${room}`), room, 'Bob', token(room, { name: 'Bob' })));
    const b = await waitEvent(bob, 'conference-joined');
    await waitEvent(alice, 'user-joined', d => d.id === b.myUserId);
    await waitEvent(bob, 'user-joined', d => d.id === a.myUserId);
    await bob.evaluate(() => window.sendText('over BOSH'));
    await waitEvent(alice, 'message-received', d => d.text === 'over BOSH');
}));

test('lib-jitsi-meet: after a WebSocket drop the stream resumes (previd + token) and the conference goes on', needs(async t => {
    const { p, browser, base, room } = await setup(t);
    const ws = p.wsURL(`?room=${room}`);
    const alice = await openParticipant(browser, base);
    const bob = await openParticipant(browser, base);
    await alice.evaluate(o => window.join(o), joinOptions(ws, room, 'Alice', token(room, { name: 'Alice' })));
    const a = await waitEvent(alice, 'conference-joined');
    const first = await waitEvent(alice, 'connection-established');
    await bob.evaluate(o => window.join(o), joinOptions(ws, room, 'Bob', token(room, { name: 'Bob' })));
    const b = await waitEvent(bob, 'conference-joined');
    await waitEvent(alice, 'user-joined', d => d.id === b.myUserId);
    // Let the stream management <enable/> round trip finish.
    await alice.waitForFunction(() => Boolean(window.connection.xmpp.connection._stropheConn.streamManagement.getResumeToken()), { timeout: 10000 });

    await alice.evaluate(() => window.dropWebSocket());
    await bob.evaluate(() => window.sendText('sent while Alice was away'));
    // lib-jitsi-meet reconnects after 1.5-3 s with previd=<SM id> and the
    // same token; the server resumes the session: same JID, nothing lost.
    await alice.waitForFunction(() => window.events.filter(e => e.type === 'connection-established').length >= 2, { timeout: 30000 });
    const established = await alice.evaluate(() => window.events.filter(e => e.type === 'connection-established').map(e => e.data));
    assert.equal(established.length, 2, 'established twice: the first login and the resumption');
    assert.equal(established[1].jid, first.jid, 'the same full JID after resumption');
    await waitEvent(alice, 'message-received', d => d.text === 'sent while Alice was away' && d.id === b.myUserId);
    assert.ok(!(await eventTypes(bob)).includes('user-left'), 'Bob never saw Alice leave');
    const joins = (await eventTypes(alice)).filter(x => x === 'conference-joined').length;
    assert.equal(joins, 1, 'the conference was not joined again');
    // And the resumed stream still carries new traffic both ways.
    await alice.evaluate(() => window.sendText('back'));
    await waitEvent(bob, 'message-received', d => d.text === 'back' && d.id === a.myUserId);
}));

test('lib-jitsi-meet: a guest cannot start a meeting but joins one a token user started', needs(async t => {
    const { p, browser, base, room } = await setup(t);
    const ws = p.wsURL(`?room=${room}`);
    const guest = await openParticipant(browser, base);
    // No token: lib-jitsi-meet logs in anonymously on hosts.anonymousdomain.
    await guest.evaluate(o => window.join(o), joinOptions(ws, room, 'Guest', undefined));
    const conn = await waitEvent(guest, 'connection-established');
    assert.match(conn.jid, /@guest\.meet\.e2e\.test\//);
    // The focus answers not-authorized; this lib-jitsi-meet build reports
    // it in its moderator log (its AUTHENTICATION_REQUIRED listener then
    // throws on an undefined Jingle session before CONFERENCE_FAILED).
    await waitConsole(guest, /Unauthorized to start the conference/);
    assert.ok(!(await eventTypes(guest)).includes('conference-joined'));

    const host = await openParticipant(browser, base);
    await host.evaluate(o => window.join(o), joinOptions(ws, room, 'Host', token(room, { name: 'Host' })));
    const h = await waitEvent(host, 'conference-joined');
    await waitEvent(host, 'user-role-changed', d => d.self && d.role === 'moderator');

    const guest2 = await openParticipant(browser, base);
    await guest2.evaluate(o => window.join(o), joinOptions(ws, room, 'Guest', undefined));
    const g = await waitEvent(guest2, 'conference-joined');
    assert.equal(g.isModerator, false);
    await waitEvent(guest2, 'user-joined', d => d.id === h.myUserId && d.displayName === 'Host');
    await waitEvent(host, 'user-joined', d => d.id === g.myUserId && d.displayName === 'Guest');
    assert.equal(await guest2.evaluate(() => window.conference.isModerator()), false, 'the guest is not made moderator');
}));

test('lib-jitsi-meet-dist 2.1.5 (the BOSH-era bundle): two participants join over BOSH with tokens and chat', needs(async t => {
    const { p, browser, base, room } = await setup(t);
    const bosh = p.boshURL(`?room=${room}`);
    const alice = await openParticipant(browser, base, 'old');
    const bob = await openParticipant(browser, base, 'old');
    await alice.evaluate(o => window.join(o), joinOptions(bosh, room, 'Alice', token(room, { name: 'Alice' })));
    const a = await waitEvent(alice, 'conference-joined');
    await bob.evaluate(o => window.join(o), joinOptions(bosh, room, 'Bob', token(room, { name: 'Bob' })));
    const b = await waitEvent(bob, 'conference-joined');
    await waitEvent(alice, 'user-joined', d => d.id === b.myUserId);
    await waitEvent(bob, 'user-joined', d => d.id === a.myUserId);
    await waitEvent(alice, 'user-role-changed', d => d.self && d.role === 'moderator');
    await alice.evaluate(() => window.sendText('hello from 2.1.5'));
    await waitEvent(bob, 'message-received', d => d.text === 'hello from 2.1.5' && d.id === a.myUserId);
}));

test('lib-jitsi-meet: a token for another room is refused with conference.connectionError.notAllowed', needs(async t => {
    const { p, browser, base, room } = await setup(t);
    const page = await openParticipant(browser, base);
    await page.evaluate(o => window.join(o), joinOptions(p.wsURL(`?room=${room}`), room, 'Mallory', token('someotherroom')));
    // The login itself succeeds (the token is valid); the MUC refuses the
    // join (token_verification: "Room and token mismatched").
    await waitEvent(page, 'connection-established');
    const failed = await waitEvent(page, 'conference-failed');
    assert.equal(failed.error, 'conference.connectionError.notAllowed');
    const events = await eventTypes(page);
    assert.ok(!events.includes('conference-joined'), `no conference-joined in ${events}`);
}));

test('lib-jitsi-meet: a token with a bad signature fails the connection with the server\'s reason', needs(async t => {
    const { p, browser, base, room } = await setup(t);
    const page = await openParticipant(browser, base);
    const forged = token(room, { name: 'Forger' }, {}, 'not-the-secret');
    await page.evaluate(o => window.join(o), joinOptions(p.wsURL(`?room=${room}`), room, 'Forger', forged));
    const failed = await waitEvent(page, 'connection-failed');
    assert.equal(failed.error, 'connection.passwordRequired');
    // lib-jitsi-meet extracts the SASL <text/> of the not-allowed failure.
    assert.ok(failed.message && failed.message.length > 0, `a reason in ${JSON.stringify(failed)}`);
    assert.match(failed.message, /signature|verif|token/i);
}));
