// The Jitsi-shaped deployment of testdata/e2e/jitsi.cfg.lua and its tokens.

import { mintJWT } from './util.js';

/** Names and secret of testdata/e2e/jitsi.cfg.lua. */
export const meet = {
    domain: 'meet.e2e.test',
    guest: 'guest.meet.e2e.test',
    muc: 'conference.meet.e2e.test',
    focus: 'focus.meet.e2e.test',
    appID: 'e2e_app',
    secret: 'e2e-secret-for-tests-only'
};

/**
 * A token as a Jitsi deployment issues it: iss app_id, aud "jitsi", sub
 * the domain, room the room name, an hour of validity.
 * @param {string} room   room name ("*" for any)
 * @param {object} [user] context.user
 * @param {object} [over] claims to override
 * @param {string} [secret] HS256 key (default the deployment's)
 */
export function token(room, user = { name: 'E2E User' }, over = {}, secret = meet.secret) {
    const now = Math.floor(Date.now() / 1000);
    return mintJWT({
        iss: meet.appID,
        aud: 'jitsi',
        sub: meet.domain,
        room,
        exp: now + 3600,
        nbf: now - 10,
        context: { user },
        ...over
    }, secret);
}
