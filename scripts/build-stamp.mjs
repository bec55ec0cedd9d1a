// Whether the built app (packages/protocol/dist, apps/web/dist, apps/api/dist) was built from the sources as they are now.
// `npm start` builds only when they changed, so a restart listens in about a second instead of
// rebuilding everything (20 s) every time.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';

/** What the web app and the API are built from (folders are read recursively). */
export const INPUTS = [
  'package.json',
  'package-lock.json',
  'tsconfig.json',
  'tsconfig.base.json',
  'prisma',
  'packages/protocol/package.json',
  'packages/protocol/tsconfig.json',
  'packages/protocol/tsconfig.build.json',
  'packages/protocol/src',
  'apps/api/package.json',
  'apps/api/tsconfig.json',
  'apps/api/tsconfig.build.json',
  'apps/api/src',
  'apps/web/package.json',
  'apps/web/tsconfig.json',
  'apps/web/index.html',
  'apps/web/vite.config.ts',
  'apps/web/svelte.config.js',
  'apps/web/src',
];

/** What a build leaves; missing, the build is not there whatever the stamp says. */
export const OUTPUTS = ['packages/protocol/dist/index.js', 'apps/web/dist/index.html', 'apps/api/dist/main.js'];

export const STAMP = 'apps/api/dist/.build-stamp';

function files(root, path, out) {
  const full = join(root, path);
  if (!existsSync(full)) return;
  if (statSync(full).isDirectory()) {
    for (const name of readdirSync(full).sort()) files(root, join(path, name), out);
  } else {
    out.push(path);
  }
}

/** A hash of every input file's path and content: the same sources give the same value. */
export function fingerprint(root) {
  const hash = createHash('sha256');
  const list = [];
  for (const input of INPUTS) files(root, input, list);
  for (const path of list) {
    hash.update(relative(root, join(root, path)));
    hash.update('\0');
    hash.update(readFileSync(join(root, path)));
    hash.update('\0');
  }
  return hash.digest('hex');
}

/** Whether the outputs exist and were stamped with this fingerprint. */
export function upToDate(root, print = fingerprint(root)) {
  if (!OUTPUTS.every((p) => existsSync(join(root, p)))) return false;
  const stamp = join(root, STAMP);
  return existsSync(stamp) && readFileSync(stamp, 'utf8').trim() === print;
}

/** Records that the outputs were built from `print` (call after a successful build). */
export function stamp(root, print) {
  writeFileSync(join(root, STAMP), `${print}\n`);
}

// `node scripts/build-stamp.mjs write`: stamp the build just made (the end of `npm run build`).
if (process.argv[1] && import.meta.filename === (await import('node:path')).resolve(process.argv[1]) && process.argv[2] === 'write') {
  const root = join(import.meta.dirname, '..');
  if (!OUTPUTS.every((p) => existsSync(join(root, p)))) {
    console.error(`build-stamp: ${OUTPUTS.join(', ')} missing; not stamping`);
    process.exit(1);
  }
  stamp(root, fingerprint(root));
}
