// Headless Chromium (Debian's package) driven by puppeteer-core, and a
// page server for the lib-jitsi-meet bundle.

import fs from 'node:fs';
import http from 'node:http';
import { once } from 'node:events';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import puppeteer from 'puppeteer-core';

import { bundleNames, ljmBundle } from './fetch-ljm.js';
import { withTimeout } from './util.js';

const pages = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'pages');

/** Chromium to drive: CHROMIUM_PATH or Debian's /usr/bin/chromium. */
export const chromiumPath = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

// The flags this machine needs (no sandbox as root; nothing that calls
// out to Google's services, which the closed network refuses).
const flags = [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--disable-dev-shm-usage',
    '--use-fake-ui-for-media-stream',
    '--use-fake-device-for-media-stream'
];

/**
 * Launches headless Chromium with a fresh profile; closed after the test.
 * @param {import('node:test').TestContext} t
 */
export async function launchBrowser(t) {
    if (!fs.existsSync(chromiumPath)) {
        throw new Error(`no Chromium at ${chromiumPath} (e2e/run installs Debian's chromium)`);
    }
    const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'e2e-chromium-'));
    const browser = await puppeteer.launch({
        executablePath: chromiumPath,
        headless: true,
        userDataDir: profile,
        args: flags,
        protocolTimeout: 60000
    });
    t.after(async () => {
        await browser.close().catch(() => {});
        fs.rmSync(profile, { recursive: true, force: true });
    });
    return browser;
}

/**
 * Serves pages/ and the lib-jitsi-meet bundle on 127.0.0.1; closed after
 * the test. Resolves to the base URL.
 */
export async function servePages(t) {
    const files = {
        // The current bundle takes jQuery as an external (UMD global "jquery");
        // this is the version its package.json names.
        '/jquery.min.js': path.join(pages, '..', 'node_modules', 'jquery', 'dist', 'jquery.min.js'),
        '/': path.join(pages, 'ljm.html'),
        '/participant.js': path.join(pages, 'participant.js')
    };
    for (const name of bundleNames) {
        files[`/bundle/${name}.js`] = ljmBundle(name);
    }
    const srv = http.createServer((req, res) => {
        const file = files[new URL(req.url, 'http://x').pathname];
        if (!file) {
            // favicon.ico and the like: nothing, without a console error.
            res.writeHead(204).end();
            return;
        }
        const type = file.endsWith('.html') ? 'text/html' : 'text/javascript';
        res.writeHead(200, { 'content-type': `${type}; charset=utf-8` });
        fs.createReadStream(file).pipe(res);
    });
    srv.listen(0, '127.0.0.1');
    await once(srv, 'listening');
    t.after(() => new Promise(resolve => {
        srv.closeAllConnections();
        srv.close(resolve);
    }));
    return `http://127.0.0.1:${srv.address().port}/`;
}

/**
 * Opens the participant page in its own browser context (own storage,
 * like another person's browser), with lib-jitsi-meet bundle "current" or
 * "old" (ljm.json). Console errors of the page are kept in
 * page.consoleLines for failure messages.
 */
export async function openParticipant(browser, baseURL, bundle = 'current') {
    const ctx = await browser.createBrowserContext();
    const page = await ctx.newPage();
    page.consoleLines = [];
    page.on('console', m => page.consoleLines.push(`${m.type()}: ${m.text()}`));
    page.on('pageerror', e => page.consoleLines.push(`pageerror: ${e.message}`));
    await page.goto(`${baseURL}?bundle=${bundle}`, { waitUntil: 'load' });
    await page.waitForFunction(() => typeof window.JitsiMeetJS === 'object' && typeof window.join === 'function');
    return page;
}

// Events that end a wait for anything else at once.
const fatal = ['connection-failed', 'conference-failed'];

/**
 * Waits until the page logged an event of the given type for which
 * match(data) holds; resolves to its data. A connection or conference
 * failure fails the wait at once (unless that is what is awaited).
 */
export async function waitEvent(page, type, match = () => true, ms = 20000) {
    const deadline = Date.now() + ms;
    for (;;) {
        const events = await page.evaluate(() => window.events);
        const found = events.find(e => e.type === type && match(e.data));
        if (found) {
            return found.data;
        }
        const failed = fatal.includes(type) ? undefined : events.find(e => fatal.includes(e.type));
        if (failed || Date.now() > deadline) {
            const seen = events.map(e => `${e.type} ${JSON.stringify(e.data)}`).join('\n  ');
            const why = failed ? `${failed.type} while waiting for ${type}` : `no ${type} event in ${ms} ms`;
            throw new Error(`${why}; events:\n  ${seen}\nconsole:\n  ${page.consoleLines.slice(-15).join('\n  ')}`);
        }
        await new Promise(r => setTimeout(r, 100));
    }
}

/** The types of the events a page logged so far. */
export function eventTypes(page) {
    return page.evaluate(() => window.events.map(e => e.type));
}

export { withTimeout };
