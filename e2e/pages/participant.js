// One lib-jitsi-meet participant: window.join(opts) connects and joins a
// conference; everything the library reports is appended to
// window.events for the test to read.
/* global JitsiMeetJS */

window.events = [];

function log(type, data = {}) {
    window.events.push({ type, data, at: Date.now() });
}

window.join = function join({ serviceUrl, token, domain, anonymousdomain, muc, focus, room, displayName }) {
    JitsiMeetJS.setLogLevel(JitsiMeetJS.logLevels.WARN);
    JitsiMeetJS.init({ disableAudioLevels: true });
    const { connection: connEvents, conference: confEvents } = JitsiMeetJS.events;
    const options = {
        hosts: { domain, anonymousdomain, muc, focus },
        serviceUrl,
        enableWebsocketResume: true
    };
    const connection = new JitsiMeetJS.JitsiConnection(null, token, options);
    window.connection = connection;
    connection.addEventListener(connEvents.CONNECTION_ESTABLISHED, id => {
        log('connection-established', { id, jid: connection.xmpp.connection.jid });
        if (window.conference) {
            // Established again: the XEP-0198 stream was resumed.
            return;
        }
        const conf = connection.initJitsiConference(room, { p2p: { enabled: false } });
        window.conference = conf;
        conf.on(confEvents.CONFERENCE_JOINED, () => log('conference-joined', {
            myUserId: conf.myUserId(),
            isModerator: conf.isModerator(),
            role: conf.getRole()
        }));
        conf.on(confEvents.CONFERENCE_FAILED, (error, ...rest) => log('conference-failed', { error, rest: rest.map(String) }));
        conf.on(confEvents.CONFERENCE_ERROR, error => log('conference-error', { error: String(error) }));
        conf.on(confEvents.USER_JOINED, (id, user) => log('user-joined', { id, displayName: user.getDisplayName() }));
        conf.on(confEvents.USER_LEFT, id => log('user-left', { id }));
        conf.on(confEvents.USER_ROLE_CHANGED, (id, role) => log('user-role-changed', { id, role, self: id === conf.myUserId() }));
        conf.on(confEvents.MESSAGE_RECEIVED, (id, text) => log('message-received', { id, text }));
        conf.on(confEvents.DISPLAY_NAME_CHANGED, (id, name) => log('display-name-changed', { id, name }));
        conf.setDisplayName(displayName);
        conf.join();
    });
    connection.addEventListener(connEvents.CONNECTION_FAILED, (error, message) => log('connection-failed', { error, message: message == null ? null : String(message) }));
    connection.addEventListener(connEvents.CONNECTION_DISCONNECTED, msg => log('connection-disconnected', { msg: msg == null ? null : String(msg) }));
    connection.connect();
};

window.sendText = text => window.conference.sendTextMessage(text);
// lib-jitsi-meet's own test shortcut: close the WebSocket as a network
// failure would; the library then resumes the stream with previd.
window.dropWebSocket = () => window.connection.xmpp.connection.closeWebsocket();
window.leave = () => window.conference.leave().then(() => window.connection.disconnect());
