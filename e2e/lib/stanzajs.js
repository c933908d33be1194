// Helpers around StanzaJS (stanza) in Node.

import * as XMPP from 'stanza';

import { Inbox, withTimeout } from './util.js';

export { XMPP };

/**
 * Connects a StanzaJS client over one transport and resolves when its
 * session has started; rejects on auth:failed or a disconnect before that.
 * Every incoming stanza (as StanzaJS JSON, with its kind) goes to c.inbox.
 * @param {object} opts
 * @param {'websocket'|'bosh'} opts.transport
 * @param {string} opts.url
 * @param {string} opts.jid       bare JID, or a domain for ANONYMOUS
 * @param {string} [opts.password]
 * @param {string} [opts.resource]
 * @param {object} [opts.extra]   more createClient options
 */
export function connect({ transport, url, jid, password, resource, extra = {} }) {
    const c = XMPP.createClient({
        jid,
        password,
        resource,
        server: jid.includes('@') ? jid.split('@')[1] : jid,
        transports: { websocket: transport === 'websocket' ? url : false, bosh: transport === 'bosh' ? url : false },
        ...extra
    });
    c.inbox = new Inbox();
    for (const kind of ['message', 'presence', 'iq']) {
        c.on(kind, s => c.inbox.push({ kind, ...s }));
    }
    const ready = new Promise((resolve, reject) => {
        c.once('session:started', () => resolve(c));
        c.once('auth:failed', () => {
            // Close the refused stream ourselves, so nothing is written to
            // it after the test ends.
            c.config.autoReconnect = false;
            c.disconnect();
            reject(Object.assign(new Error('auth:failed'), { event: 'auth:failed' }));
        });
        c.once('disconnected', () => reject(Object.assign(new Error('disconnected before the session started'), { event: 'disconnected' })));
    });
    c.connect();
    return withTimeout(ready, 15000, `StanzaJS ${transport} login`);
}

/** Disconnects a client (bounded). */
export async function disconnect(c) {
    if (!c || !c.transport) {
        return;
    }
    c.config.autoReconnect = false;
    // A clean BOSH terminate ends with stream:end and no 'disconnected'.
    const gone = new Promise(resolve => {
        c.once('disconnected', resolve);
        c.once('stream:end', resolve);
    });
    c.disconnect();
    await withTimeout(gone, 5000, 'StanzaJS disconnect').catch(() => {});
}
