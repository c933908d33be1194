// parley dev page: joins a lib-jitsi-meet conference anonymously over the
// WebSocket of the origin that served the page, lists the participants and
// carries a small chat. Development and testing only (no media).
//
// State for people and tests lives in the DOM: body[data-state] is
// loading, connecting, joining, joined, left or failed; body[data-my-id]
// is this participant's id once joined; #participants has one
// li[data-id] per participant (data-self on our own); #messages has one
// li[data-from] per chat message with the text in .text.
/* global JitsiMeetJS */
(function () {
    'use strict';

    const body = document.body;
    const cfg = body.dataset;
    const params = new URLSearchParams(location.search);
    const room = roomName(params.get('room'));
    const name = (params.get('name') || '').trim().slice(0, 64) || `Guest ${Math.floor(1000 + Math.random() * 9000)}`;
    const statusEl = document.getElementById('status');
    const people = document.getElementById('participants');
    const messages = document.getElementById('messages');
    const form = document.getElementById('chat');
    const input = document.getElementById('chat-text');
    const send = document.getElementById('chat-send');
    const names = new Map();

    document.getElementById('room').textContent = room;
    document.getElementById('me').textContent = name;

    // Jitsi Meet lower-cases room names; keep what a MUC localpart takes.
    function roomName(raw) {
        const r = (raw || '').trim().toLowerCase().replace(/[^a-z0-9_-]/g, '');
        return r || 'parley-test';
    }

    function setState(state, text) {
        body.dataset.state = state;
        statusEl.textContent = text;
    }

    function participant(id, displayName, self) {
        let li = people.querySelector(`li[data-id="${CSS.escape(id)}"]`);
        if (!li) {
            li = document.createElement('li');
            li.dataset.id = id;
            if (self) {
                li.dataset.self = 'true';
            }
            people.appendChild(li);
        }
        names.set(id, displayName || id);
        li.textContent = (displayName || id) + (self ? ' (you)' : '');
        return li;
    }

    function addMessage(id, text) {
        const li = document.createElement('li');
        li.dataset.from = id;
        const from = document.createElement('span');
        from.className = 'from';
        from.textContent = names.get(id) || id;
        const t = document.createElement('span');
        t.className = 'text';
        t.textContent = text;
        li.append(from, t);
        messages.appendChild(li);
        messages.scrollTop = messages.scrollHeight;
    }

    // A bundle built with jQuery as an external (the @lyno/lib-jitsi-meet
    // package, for one) breaks with a cryptic error when the page has none.
    function broken(err) {
        const hint = window.jQuery ? '' : ' If this build takes jQuery from the page, run parley dev with PARLEY_DEV_JQUERY=/path/to/jquery.min.js.';
        setState('failed', `lib-jitsi-meet failed: ${err && err.message ? err.message : err}.${hint}`);
    }

    if (typeof window.JitsiMeetJS !== 'object') {
        setState('failed', `lib-jitsi-meet did not load from ${cfg.lib} (offline? run parley dev with PARLEY_DEV_LJM=/path/to/lib-jitsi-meet.min.js)`);
        return;
    }
    window.addEventListener('error', e => {
        if (body.dataset.state !== 'joined') {
            broken(e.error || e.message);
        }
    });
    try {
        start();
    } catch (err) {
        broken(err);
    }

    function start() {
        const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
        const serviceUrl = `${scheme}://${location.host}${cfg.websocket}?room=${encodeURIComponent(room)}`;
        JitsiMeetJS.setLogLevel(JitsiMeetJS.logLevels.WARN);
        JitsiMeetJS.init({ disableAudioLevels: true });
        const { connection: connEvents, conference: confEvents } = JitsiMeetJS.events;
        const connection = new JitsiMeetJS.JitsiConnection(null, null, {
            hosts: { domain: cfg.domain, muc: cfg.muc, focus: cfg.focus },
            serviceUrl,
            enableWebsocketResume: true
        });
        const state = { room, name, connection, conference: null };
        window.parleyDev = state;

        connection.addEventListener(connEvents.CONNECTION_ESTABLISHED, () => {
            if (state.conference) {
                return; // the stream was resumed after a network drop
            }
            setState('joining', `Connected to ${cfg.domain}, joining ${room}…`);
            const conf = connection.initJitsiConference(room, { p2p: { enabled: false } });
            state.conference = conf;
            conf.on(confEvents.CONFERENCE_JOINED, () => {
                const me = conf.myUserId();
                body.dataset.myId = me;
                participant(me, name, true);
                setState('joined', `In the meeting ${room} (${conf.isModerator() ? 'moderator' : 'participant'}).`);
                input.disabled = false;
                send.disabled = false;
            });
            conf.on(confEvents.USER_JOINED, (id, user) => participant(id, user.getDisplayName(), false));
            conf.on(confEvents.USER_LEFT, id => {
                const li = people.querySelector(`li[data-id="${CSS.escape(id)}"]`);
                if (li) {
                    li.remove();
                }
            });
            conf.on(confEvents.DISPLAY_NAME_CHANGED, (id, n) => {
                if (people.querySelector(`li[data-id="${CSS.escape(id)}"]`)) {
                    participant(id, n, id === conf.myUserId());
                }
            });
            conf.on(confEvents.USER_ROLE_CHANGED, (id, role) => {
                if (id === conf.myUserId() && body.dataset.state === 'joined') {
                    setState('joined', `In the meeting ${room} (${role === 'moderator' ? 'moderator' : 'participant'}).`);
                }
            });
            conf.on(confEvents.MESSAGE_RECEIVED, (id, text) => addMessage(id, text));
            conf.on(confEvents.CONFERENCE_FAILED, err => setState('failed', `Could not join ${room}: ${err}`));
            conf.on(confEvents.CONFERENCE_LEFT, () => setState('left', `Left ${room}.`));
            conf.setDisplayName(name);
            conf.join();
        });
        connection.addEventListener(connEvents.CONNECTION_FAILED, (err, msg) => {
            setState('failed', `Connection to ${serviceUrl} failed: ${err}${msg ? ` (${msg})` : ''}`);
        });
        connection.addEventListener(connEvents.CONNECTION_DISCONNECTED, () => {
            if (body.dataset.state !== 'failed') {
                setState('left', 'Disconnected.');
            }
        });

        form.addEventListener('submit', e => {
            e.preventDefault();
            const text = input.value.trim();
            if (text && state.conference) {
                state.conference.sendTextMessage(text);
                input.value = '';
            }
        });
        // Leave cleanly so the other tabs see us go at once.
        window.addEventListener('pagehide', () => {
            if (state.conference) {
                state.conference.leave();
            }
            connection.disconnect();
        });

        setState('connecting', `Connecting to ${serviceUrl}…`);
        connection.connect();
    }
}());
