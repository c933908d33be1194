// Harness: start a freshly built parley binary with a config from
// testdata/e2e, on ports chosen free for this test, and stop it afterwards.
//
// The binary comes from PARLEY_BIN (e2e/run builds it once). Every server
// gets its own temporary directory (config, data, log) under E2E_TMP (or
// the OS temp dir); the directory is left in place when the server did not
// shut down cleanly, and its log path is printed.

import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
/** Root of the repository. */
export const repoRoot = path.resolve(here, '..', '..');
/** Folder of the e2e configs. */
export const configDir = path.join(repoRoot, 'testdata', 'e2e');

/**
 * A piece of parley the test needs is not built into the binary (not yet
 * wired in cmd/parley/modules.go). Tests skip on it unless E2E_STRICT=1.
 */
export class MissingFeature extends Error {
    constructor(feature, detail) {
        super(`parley binary lacks ${feature}${detail ? `: ${detail}` : ''}`);
        this.feature = feature;
    }
}

/** Whether a missing piece fails the test instead of skipping it. */
export const strict = process.env.E2E_STRICT === '1';

/**
 * Runs fn(t) and turns a MissingFeature into a skip (or, with
 * E2E_STRICT=1, a failure).
 */
export function needs(fn) {
    return async t => {
        try {
            await fn(t);
        } catch (err) {
            if (err instanceof MissingFeature && !strict) {
                t.skip(err.message);
                return;
            }
            throw err;
        }
    };
}

function parleyBin() {
    const bin = process.env.PARLEY_BIN;
    if (!bin) {
        throw new Error('PARLEY_BIN is not set: run e2e/run, or build parley and set PARLEY_BIN');
    }
    return bin;
}

/** A TCP port free on 127.0.0.1 right now. */
export async function freePort() {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1');
    await once(srv, 'listening');
    const { port } = srv.address();
    srv.close();
    await once(srv, 'close');
    return port;
}

function tmpRoot() {
    const root = process.env.E2E_TMP || os.tmpdir();
    fs.mkdirSync(root, { recursive: true });
    return fs.mkdtempSync(path.join(root, 'parley-'));
}

/** Fills {{NAME}} placeholders; an unknown name is an error. */
export function render(text, vars) {
    return text.replace(/\{\{([A-Z0-9_]+)\}\}/g, (_, name) => {
        if (!(name in vars)) {
            throw new Error(`config placeholder {{${name}}} has no value`);
        }
        return String(vars[name]);
    });
}

function waitPort(port, proc, deadline) {
    return new Promise((resolve, reject) => {
        const attempt = () => {
            if (proc.exitCode !== null || proc.signalCode !== null) {
                reject(new Error(`parley exited (${proc.exitCode ?? proc.signalCode}) before listening`));
                return;
            }
            const sock = net.connect(port, '127.0.0.1');
            sock.once('connect', () => {
                sock.destroy();
                resolve();
            });
            sock.once('error', () => {
                sock.destroy();
                if (Date.now() > deadline) {
                    reject(new Error(`parley did not listen on ${port} in time`));
                    return;
                }
                setTimeout(attempt, 50);
            });
        };
        attempt();
    });
}

// Lines parley logs when the config names something the binary does not
// have; they become MissingFeature errors for the tests that need it.
const missingPatterns = [
    [/msg="module ignored" module=(\S+) .*reason="unknown module"/, m => `module ${m[1]}`],
    [/msg="component type not supported, ignored" component=\S+ type=(\S+)/, m => `component type ${m[1]}`],
    [/unknown authentication provider "([^"]+)"/, m => `authentication provider ${m[1]}`]
];

function missingIn(log) {
    const out = new Set();
    for (const line of log.split('\n')) {
        for (const [re, name] of missingPatterns) {
            const m = re.exec(line);
            if (m) {
                out.add(name(m));
            }
        }
    }
    return out;
}

/**
 * A running parley.
 * @typedef {object} Parley
 * @property {number} c2sPort
 * @property {number} httpPort
 * @property {number} componentPort
 * @property {string} dir       its temporary directory
 * @property {string} logFile
 * @property {Set<string>} missing  features named by the config that the binary lacks
 * @property {(host?: string, query?: string) => string} wsURL
 * @property {(query?: string) => string} boshURL
 * @property {(feature: string) => void} require  throws MissingFeature when missing
 * @property {(fn: () => any) => void} after  runs fn before the server stops (clients' cleanup)
 * @property {() => string} log
 * @property {() => Promise<number>} stop  SIGTERM, wait; resolves to the exit code
 */

/**
 * Starts parley with testdata/e2e/<config>, registers users, and stops it
 * when the test ends (t.after). The test fails if parley does not exit
 * cleanly (code 0) on SIGTERM.
 *
 * @param {import('node:test').TestContext} t
 * @param {object} opts
 * @param {string} [opts.config] file name in testdata/e2e
 * @param {boolean} [opts.dev]   run `parley dev` (its built-in config) instead
 * @param {Record<string,string>} [opts.env] extra environment for parley
 * @param {Array<[string,string,string]>} [opts.users]  [user, host, password]
 * @param {Record<string,string|number>} [opts.vars]     extra placeholders
 * @param {string[]} [opts.requires]  features the test needs ("module websocket", ...)
 * @returns {Promise<Parley>}
 */
export async function startParley(t, opts) {
    let lastErr;
    for (let attempt = 0; attempt < 3; attempt++) {
        try {
            return await startOnce(t, opts);
        } catch (err) {
            lastErr = err;
            // A port taken between freePort and the bind: try new ports.
            if (!/address already in use/.test(String(err.message))) {
                throw err;
            }
        }
    }
    throw lastErr;
}

async function startOnce(t, { config, dev = false, env: extraEnv = {}, users = [], vars = {}, requires = [] }) {
    const bin = parleyBin();
    const dir = tmpRoot();
    const dataDir = path.join(dir, 'data');
    fs.mkdirSync(dataDir);
    const ports = {
        C2S_PORT: await freePort(),
        HTTP_PORT: await freePort(),
        COMPONENT_PORT: await freePort()
    };
    const logFile = path.join(dir, 'parley.log');
    const env = { ...process.env, ...extraEnv };
    let args;
    if (dev) {
        // `parley dev`: the built-in config, its ports from the environment
        // (ENV_PARLEY_HTTP_PORT in the config reads $PARLEY_HTTP_PORT).
        if (users.length > 0) {
            throw new Error('parley dev has no account store to register users in');
        }
        for (const [name, port] of Object.entries(ports)) {
            env[`PARLEY_${name}`] = String(port);
        }
        args = ['dev'];
    } else {
        const text = fs.readFileSync(path.join(configDir, config), 'utf8');
        const cfgFile = path.join(dir, config);
        fs.writeFileSync(cfgFile, render(text, { ...ports, DATA_DIR: dataDir, ...vars }));
        args = ['-c', cfgFile];
    }

    for (const [user, host, password] of users) {
        const r = spawnSync(bin, [...args, 'register', user, host, password], { env, encoding: 'utf8' });
        if (r.status !== 0) {
            const out = `${r.stdout}${r.stderr}`;
            const fatal = /unknown authentication provider "([^"]+)"/.exec(out);
            if (fatal) {
                throw new MissingFeature(`authentication provider ${fatal[1]}`);
            }
            throw new Error(`parley register ${user}@${host} failed (${r.status}): ${out}`);
        }
    }

    const logFd = fs.openSync(logFile, 'a');
    const proc = spawn(bin, args, { env, stdio: ['ignore', logFd, logFd] });
    fs.closeSync(logFd);
    const readLog = () => fs.readFileSync(logFile, 'utf8');
    const exited = once(proc, 'exit').then(([code, signal]) => code ?? signal);
    let stopped;
    const stop = async () => {
        if (!stopped) {
            stopped = (async () => {
                if (proc.exitCode === null && proc.signalCode === null) {
                    proc.kill('SIGTERM');
                }
                const timer = setTimeout(() => proc.kill('SIGKILL'), 15000);
                const code = await exited;
                clearTimeout(timer);
                return code;
            })();
        }
        return stopped;
    };

    try {
        await waitPort(ports.C2S_PORT, proc, Date.now() + 20000);
    } catch (err) {
        await stop();
        const log = readLog();
        if (/address already in use/.test(log)) {
            // startParley tries again with other ports.
            throw new Error(`address already in use: ${err.message}`);
        }
        // Only a provider the binary lacks stops parley from starting; the
        // ignored modules it logs on every start are not the cause.
        const fatal = /unknown authentication provider "([^"]+)"/.exec(log);
        if (fatal) {
            throw new MissingFeature(`authentication provider ${fatal[1]}`);
        }
        throw new Error(`${err.message}\n--- ${logFile}\n${tail(log)}`);
    }

    const missing = missingIn(readLog());
    const cleanups = [];
    const p = {
        c2sPort: ports.C2S_PORT,
        httpPort: ports.HTTP_PORT,
        componentPort: ports.COMPONENT_PORT,
        dir,
        logFile,
        missing,
        log: readLog,
        stop,
        after: fn => cleanups.push(fn),
        wsURL: (query = '') => `ws://127.0.0.1:${ports.HTTP_PORT}/xmpp-websocket${query}`,
        boshURL: (query = '') => `http://127.0.0.1:${ports.HTTP_PORT}/http-bind${query}`,
        require(feature) {
            if (missing.has(feature)) {
                throw new MissingFeature(feature);
            }
        }
    };
    t.after(async () => {
        // Clients first (last registered first), then the server.
        for (const fn of cleanups.reverse()) {
            await fn();
        }
        const code = await stop();
        if (code !== 0) {
            throw new Error(`parley did not shut down cleanly (exit ${code}); log: ${logFile}\n${tail(readLog())}`);
        }
        // e2e/run keeps E2E_TMP for the failure report and removes it
        // after a green run; a bare `node --test` cleans up here.
        if (!process.env.E2E_TMP) {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
    for (const f of requires) {
        p.require(f);
    }
    return p;
}

/** The last lines of a log. */
export function tail(text, n = 40) {
    return text.split('\n').slice(-n).join('\n');
}
