// Helpers around strophe.js 5 in Node (its node build brings ws and
// @xmldom/xmldom; BOSH needs an XMLHttpRequest, from xhr2).

import { DOMParser } from '@xmldom/xmldom';
import XHR2 from 'xhr2';
import { $iq, $msg, $pres, Strophe } from 'strophe.js';

import { Inbox, withTimeout } from './util.js';

/**
 * xhr2 with responseXML, which strophe's BOSH reads (its fallback to
 * responseText returns nothing in strophe 5.0.0).
 */
class XMLHttpRequest extends XHR2 {
    get responseXML() {
        const text = this.responseText;
        return text ? new DOMParser().parseFromString(text, 'text/xml') : null;
    }
}
globalThis.XMLHttpRequest ??= XMLHttpRequest;
// Strophe logs at debug level to the console by default; keep test output
// readable (E2E_DEBUG=1 shows it).
Strophe.setLogLevel(process.env.E2E_DEBUG === '1' ? Strophe.LogLevel.DEBUG : Strophe.LogLevel.FATAL);

export { $iq, $msg, $pres, Strophe };

/** The name of a Strophe.Status value. */
export function statusName(code) {
    return Object.keys(Strophe.Status).find(k => Strophe.Status[k] === code) ?? String(code);
}

/**
 * Connects with strophe.js and resolves once CONNECTED; rejects with an
 * Error carrying .status and .condition on AUTHFAIL, CONNFAIL or
 * DISCONNECTED. Every incoming stanza goes to conn.inbox; every status
 * change to conn.statuses.
 * @param {string} service  ws:// or http(s):// (BOSH) URL
 * @param {string} jid      bare JID, or a domain for ANONYMOUS
 * @param {string} [password]
 * @param {object} [options] Strophe.Connection options
 */
export function connect(service, jid, password, options = {}) {
    const conn = new Strophe.Connection(service, options);
    if (process.env.E2E_DEBUG === '1') {
        conn.rawInput = d => console.log('RECV', d);
        conn.rawOutput = d => console.log('SENT', d);
    }
    conn.inbox = new Inbox();
    conn.statuses = new Inbox();
    return login(conn, jid, password);
}

/**
 * (Re)connects an existing Strophe.Connection (used for resumption).
 * Strophe drops user handlers on connect and disconnect, so the inbox
 * handler is added again each time.
 */
export function login(conn, jid, password) {
    const done = new Promise((resolve, reject) => {
        conn.connect(jid, password, (status, condition, elem) => {
            conn.statuses.push({ status, condition, elem });
            switch (status) {
            case Strophe.Status.CONNECTED:
                resolve(conn);
                break;
            case Strophe.Status.AUTHFAIL:
            case Strophe.Status.CONNFAIL:
            case Strophe.Status.DISCONNECTED: {
                const err = new Error(`strophe ${statusName(status)}: ${condition ?? ''}`);
                err.status = status;
                err.condition = condition;
                err.elem = elem;
                reject(err);
                break;
            }
            }
        });
        conn.addHandler(el => {
            conn.inbox.push(el);
            return true;
        });
    });
    return withTimeout(done, 15000, `strophe login to ${conn.service}`);
}

/** Disconnects and waits for DISCONNECTED (bounded). */
export async function disconnect(conn) {
    if (!conn || !conn.connected) {
        return;
    }
    const gone = conn.statuses.next(s => s.status === Strophe.Status.DISCONNECTED, 'disconnect', 5000);
    conn.disconnect('test over');
    await gone.catch(() => {});
}

/** Sends an IQ and resolves with the reply element (result or error). */
export function sendIQ(conn, iq, ms = 10000) {
    return withTimeout(new Promise(resolve => conn.sendIQ(iq, resolve, resolve, ms)), ms + 1000, 'IQ reply');
}
