// Small helpers shared by the test files.

import crypto from 'node:crypto';

/** Rejects after ms with a message naming what was awaited. */
export function withTimeout(promise, ms, what) {
    let timer;
    const timeout = new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    });
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Collects values pushed by a library's callbacks and lets a test await
 * the first one matching a predicate (seen before or after the call).
 */
export class Inbox {
    constructor() {
        this.items = [];
        this.waiters = [];
    }

    push(item) {
        this.items.push(item);
        for (const w of [...this.waiters]) {
            if (w.match(item)) {
                this.waiters.splice(this.waiters.indexOf(w), 1);
                w.resolve(item);
            }
        }
    }

    /** Resolves with the first item (old or new) for which match is true. */
    next(match, what = 'a stanza', ms = 10000) {
        const found = this.items.find(match);
        if (found) {
            return Promise.resolve(found);
        }
        return withTimeout(new Promise(resolve => this.waiters.push({ match, resolve })), ms, what);
    }
}

function b64url(buf) {
    return Buffer.from(buf).toString('base64url');
}

/**
 * An HS256 JWT as Jitsi deployments issue them (header typ JWT).
 * @param {object} claims
 * @param {string} secret
 */
export function mintJWT(claims, secret) {
    const header = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
    const body = b64url(JSON.stringify(claims));
    const sig = crypto.createHmac('sha256', secret).update(`${header}.${body}`).digest();
    return `${header}.${body}.${b64url(sig)}`;
}

/** A random lowercase name, for rooms and nicks. */
export function randomName(prefix) {
    return `${prefix}${crypto.randomBytes(4).toString('hex')}`;
}
