// Puts lib-jitsi-meet's browser bundles in e2e/vendor/<name>.js, from
// `npm pack` of the versions pinned in ljm.json, after checking each
// tarball's integrity. The current package cannot be installed as a
// dependency: one of its own dependencies is a git URL. Run by e2e/run;
// safe to run again (a bundle whose integrity stamp matches is kept).

import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const e2e = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const pins = JSON.parse(fs.readFileSync(path.join(e2e, 'ljm.json'), 'utf8')).bundles;
const vendor = path.join(e2e, 'vendor');

/** The names of the pinned bundles ("current", "old"). */
export const bundleNames = Object.keys(pins);

/** Path of bundle name, fetching it first if needed. */
export function ljmBundle(name = 'current') {
    const pin = pins[name];
    if (!pin) {
        throw new Error(`no lib-jitsi-meet bundle ${name} in ljm.json`);
    }
    const out = path.join(vendor, `${name}.js`);
    const stamp = `${out}.integrity`;
    if (fs.existsSync(out) && fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8') === pin.integrity) {
        return out;
    }
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ljm-'));
    try {
        const json = execFileSync('npm', ['pack', `${pin.package}@${pin.version}`, '--json', '--pack-destination', tmp],
            { cwd: tmp, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
        const [info] = JSON.parse(json);
        const tarball = path.join(tmp, info.filename);
        const [algo, want] = pin.integrity.split('-');
        const got = crypto.createHash(algo).update(fs.readFileSync(tarball)).digest('base64');
        if (got !== want) {
            throw new Error(`${pin.package}@${pin.version}: integrity ${algo}-${got}, want ${pin.integrity}`);
        }
        execFileSync('tar', ['-xzf', tarball, '-C', tmp, `package/${pin.file}`]);
        fs.mkdirSync(vendor, { recursive: true });
        fs.copyFileSync(path.join(tmp, 'package', pin.file), out);
        fs.writeFileSync(stamp, pin.integrity);
        return out;
    } finally {
        fs.rmSync(tmp, { recursive: true, force: true });
    }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
    for (const name of bundleNames) {
        console.log(ljmBundle(name));
    }
}
