// The README's quickstart: `parley dev`, then its own page at / opened in
// two tabs joins a lib-jitsi-meet meeting with nothing else running (no
// token, no Jicofo, no web server). The page is cmd/parley/devpage.*; it
// loads the pinned current bundle served by parley itself
// (PARLEY_DEV_LJM, with jQuery from PARLEY_DEV_JQUERY, which that bundle
// takes from the page).

import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { launchBrowser } from '../lib/browser.js';
import { ljmBundle } from '../lib/fetch-ljm.js';
import { needs, startParley } from '../lib/parley.js';
import { randomName } from '../lib/util.js';

const e2e = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const jquery = path.join(e2e, 'node_modules', 'jquery', 'dist', 'jquery.min.js');

const offline = { PARLEY_DEV_LJM: ljmBundle('current'), PARLEY_DEV_JQUERY: jquery };

async function startDev(t, env = offline) {
    const p = await startParley(t, {
        dev: true,
        env,
        requires: ['module websocket', 'module dev_page', 'component type dev_focus']
    });
    return { p, base: `http://127.0.0.1:${p.httpPort}/` };
}

// A tab in its own browser context (like another person's browser); the
// console is kept for failure messages.
async function openTab(browser, url) {
    const ctx = await browser.createBrowserContext();
    const page = await ctx.newPage();
    page.consoleLines = [];
    page.on('console', m => page.consoleLines.push(`${m.type()}: ${m.text()}`));
    page.on('pageerror', e => page.consoleLines.push(`pageerror: ${e.message}`));
    page.on('requestfailed', r => page.consoleLines.push(`requestfailed: ${r.url()} ${r.failure()?.errorText}`));
    await page.goto(url, { waitUntil: 'load' });
    return page;
}

// What the page shows: its state, its id, the participants and messages.
function view(page) {
    return page.evaluate(() => ({
        state: document.body.dataset.state,
        status: document.getElementById('status').textContent,
        myId: document.body.dataset.myId,
        participants: [...document.querySelectorAll('#participants li')].map(li => ({
            id: li.dataset.id, self: li.dataset.self === 'true', text: li.textContent
        })),
        messages: [...document.querySelectorAll('#messages li')].map(li => ({
            from: li.dataset.from, text: li.querySelector('.text').textContent
        }))
    }));
}

// Polls the page's view until ok(view) holds; the failure names what the
// page showed last. A page in state "failed" ends the wait at once.
async function until(page, ok, what, ms = 20000) {
    const deadline = Date.now() + ms;
    for (;;) {
        const v = await view(page);
        if (ok(v)) {
            return v;
        }
        if (v.state === 'failed' || Date.now() > deadline) {
            throw new Error(`page never showed ${what}; last view: ${JSON.stringify(v)}\nconsole:\n  ${page.consoleLines.slice(-15).join('\n  ')}`);
        }
        await new Promise(r => setTimeout(r, 100));
    }
}

async function typeAndSend(page, text) {
    await page.type('#chat-text', text);
    await page.click('#chat-send');
}

test('quickstart: parley dev serves a page that two tabs use to meet and chat', needs(async t => {
    const { p, base } = await startDev(t);
    const browser = await launchBrowser(t);
    const room = randomName('quickstart');

    const alice = await openTab(browser, `${base}?room=${room}&name=Alice`);
    const a = await until(alice, v => v.state === 'joined' && v.myId, 'conference joined');
    assert.deepEqual(a.participants, [{ id: a.myId, self: true, text: 'Alice (you)' }]);
    // The first participant is made moderator by the dev focus.
    await until(alice, v => /moderator/.test(v.status), 'the moderator role');

    const bob = await openTab(browser, `${base}?room=${room}&name=Bob`);
    const b = await until(bob, v => v.state === 'joined' && v.myId, 'conference joined');
    assert.notEqual(a.myId, b.myId);

    // Each sees the other, with the display name.
    const seenByBob = await until(bob, v => v.participants.length === 2, 'two participants');
    assert.deepEqual(seenByBob.participants.find(x => x.id === a.myId), { id: a.myId, self: false, text: 'Alice' });
    const seenByAlice = await until(alice, v => v.participants.some(x => x.id === b.myId && x.text === 'Bob'), 'Bob');
    assert.equal(seenByAlice.participants.length, 2);

    // A chat message typed in one tab shows in the other, attributed.
    await typeAndSend(alice, 'hello from the quickstart');
    const got = await until(bob, v => v.messages.some(m => m.text === 'hello from the quickstart'), 'the message');
    assert.equal(got.messages.find(m => m.text === 'hello from the quickstart').from, a.myId);
    await typeAndSend(bob, 'and back');
    await until(alice, v => v.messages.some(m => m.text === 'and back' && m.from === b.myId), 'the reply');

    // Closing a tab is seen by the other.
    await bob.close({ runBeforeUnload: true });
    await until(alice, v => v.participants.length === 1 && !v.participants.some(x => x.id === b.myId), 'Bob leaving');

    // Without a token, on nothing but parley: no errors in parley's log.
    assert.doesNotMatch(p.log(), /level=ERROR/);
}));

test('quickstart: ?room= picks the room, so two rooms do not meet', needs(async t => {
    const { base } = await startDev(t);
    const browser = await launchBrowser(t);
    const one = await openTab(browser, `${base}?room=${randomName('one')}`);
    const two = await openTab(browser, `${base}?room=${randomName('two')}`);
    await until(one, v => v.state === 'joined', 'conference joined');
    await until(two, v => v.state === 'joined', 'conference joined');
    // Both are alone, and each is its room's moderator.
    await until(one, v => /moderator/.test(v.status), 'the moderator role');
    await until(two, v => /moderator/.test(v.status), 'the moderator role');
    assert.equal((await view(one)).participants.length, 1);
    assert.equal((await view(two)).participants.length, 1);
}));

test('quickstart: the page says what is wrong when lib-jitsi-meet cannot load or start', needs(async t => {
    const browser = await launchBrowser(t);

    // By default the page takes meet.jit.si's bundle. Refused here (as
    // offline), the page says so and names the offline option.
    const { base: online } = await startDev(t, { PARLEY_DEV_LJM: '', PARLEY_DEV_JQUERY: '' });
    const ctx = await browser.createBrowserContext();
    const page = await ctx.newPage();
    page.consoleLines = [];
    const requested = [];
    await page.setRequestInterception(true);
    page.on('request', r => {
        requested.push(r.url());
        if (new URL(r.url()).host === 'meet.jit.si') {
            r.abort('internetdisconnected');
        } else {
            r.continue();
        }
    });
    await page.goto(online, { waitUntil: 'load' });
    const v = await until(page, x => x.state === 'failed', 'a failure', 5000);
    assert.ok(requested.includes('https://meet.jit.si/libs/lib-jitsi-meet.min.js'), `requests: ${requested.join(' ')}`);
    assert.match(v.status, /did not load from https:\/\/meet\.jit\.si\/libs\/lib-jitsi-meet\.min\.js.*PARLEY_DEV_LJM=/);

    // The pinned bundle takes jQuery from the page: without
    // PARLEY_DEV_JQUERY the page names that option.
    const { base } = await startDev(t, { PARLEY_DEV_LJM: ljmBundle('current') });
    const tab = await openTab(browser, base);
    const w = await until(tab, x => x.state === 'failed', 'a failure');
    assert.match(w.status, /lib-jitsi-meet failed: .*PARLEY_DEV_JQUERY=/);
}));
