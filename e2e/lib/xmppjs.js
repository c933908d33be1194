// Helpers around @xmpp/client (xmpp.js).

import { client, xml } from '@xmpp/client';
import WebSocket from 'ws';

import { Inbox, withTimeout } from './util.js';

export { xml };

// @xmpp/websocket uses the global WebSocket, which Node 20 lacks.
globalThis.WebSocket ??= WebSocket;

/**
 * Starts an @xmpp/client and waits until it is online. Every incoming
 * stanza goes to c.inbox.
 * @param {object} opts  options of client() (service, domain, username, password, credentials, resource)
 */
export async function connect(opts) {
    const c = client(opts);
    c.inbox = new Inbox();
    c.errors = [];
    c.on('stanza', el => c.inbox.push(el));
    c.on('error', err => c.errors.push(err));
    const online = new Promise(resolve => c.once('online', resolve));
    await withTimeout(c.start(), 10000, `${opts.service} login`);
    await withTimeout(online, 10000, 'online');
    return c;
}

/** Stops a client, ignoring errors of an already closed one. */
export async function stop(c) {
    if (!c) {
        return;
    }
    c.reconnect?.stop();
    try {
        await withTimeout(c.stop(), 5000, 'client stop');
    } catch {
        // already gone
    }
}

/** Sends a ping to `to` and resolves with the result IQ. */
export function ping(c, to) {
    return c.iqCaller.request(xml('iq', { type: 'get', to }, xml('ping', 'urn:xmpp:ping')), 10000);
}
