// `npm start`: builds the web app and the API only when their sources changed since the last
// build (scripts/build-stamp.mjs), then runs the server in this process (its own SIGTERM/SIGINT
// handling applies). FORCE_BUILD=1 builds whatever the stamp says.
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { fingerprint, stamp, upToDate } from './build-stamp.mjs';

const root = resolve(import.meta.dirname, '..');
const print = fingerprint(root);
if (process.env.FORCE_BUILD === '1' || !upToDate(root, print)) {
  console.log('Sources changed since the last build (or no build yet): building the web app and the API…');
  // The wire protocol first: the API imports its build (packages/protocol/dist).
  for (const workspace of ['packages/protocol', 'apps/web', 'apps/api']) {
    const result = spawnSync('npm', ['run', 'build', '-w', workspace], { cwd: root, stdio: 'inherit' });
    if (result.status !== 0) process.exit(result.status ?? 1);
  }
  stamp(root, print);
} else {
  console.log('Build is up to date with the sources: starting.');
}
await import('../apps/api/dist/main.js');
