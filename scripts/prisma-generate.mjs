// Generates the Prisma client for each database provider (both by default: the provider is
// chosen at start-up from DATABASE_URL, so one build serves either).
// Prisma's CLI wants a native schema engine for `generate` that it downloads from a host that
// may be unreachable; `generate` never runs it, so any existing file satisfies the check.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const env = { ...process.env };
if (!env.PRISMA_SCHEMA_ENGINE_BINARY || !existsSync(env.PRISMA_SCHEMA_ENGINE_BINARY)) {
  env.PRISMA_SCHEMA_ENGINE_BINARY = process.execPath;
}
const providers = process.argv.slice(2).length ? process.argv.slice(2) : ['sqlite', 'postgres'];
for (const provider of providers) {
  const res = spawnSync('npx', ['--no-install', 'prisma', 'generate', '--schema', `prisma/${provider}`], {
    stdio: 'inherit',
    env,
    shell: process.platform === 'win32',
  });
  if (res.status !== 0) process.exit(res.status ?? 1);
}
