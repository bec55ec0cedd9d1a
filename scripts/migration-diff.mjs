#!/usr/bin/env node
// Offline migration SQL for prisma/<provider>, using Prisma's schema engine compiled to
// WebAssembly (@prisma/schema-engine-wasm) instead of the native binary the CLI downloads.
//
//   node scripts/migration-diff.mjs sqlite|postgres
//       Prints the SQL that creates the whole schema from an empty database, like
//       `prisma migrate diff --from-empty --to-schema prisma/<provider> --script`.
//
//   node scripts/migration-diff.mjs sqlite|postgres --check
//       Checks that prisma/<provider>/migrations/*/migration.sql, applied in order, produce the
//       schema. Exit 0 when in sync, 1 on drift (the SQL that is missing goes to stderr),
//       2 on usage or engine errors.
//       - sqlite: the engine applies the migrations to an in-memory shadow database
//         (better-sqlite3) and diffs the result against the schema.
//       - postgres: the same, on the PostgreSQL at SHADOW_DATABASE_URL (or --shadow-url=URL;
//         by default the machine's own, postgresql://postgres@127.0.0.1:5432/test, which every
//         developer's and CI's machine runs); the engine creates and drops a temporary
//         database there (the role needs CREATEDB). `--shadow-url=` (empty) falls back to a
//         normalised text comparison of the generated SQL with the concatenated migration
//         files, which is only meaningful while there is a single, generated, init migration.
//
// The engine is an internal Prisma API: pin @prisma/schema-engine-wasm to the exact version
// Prisma's CLI itself depends on (see `prisma/package.json` of the installed CLI build).
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const PROVIDERS = { sqlite: 'sqlite', postgres: 'postgres', postgresql: 'postgres' };
const NO_FILTER = { externalTables: [], externalEnums: [] };
/** The PostgreSQL every developer's and CI's machine runs (as .ci/run and the scale suite use it). */
const DEFAULT_SHADOW_URL = 'postgresql://postgres@127.0.0.1:5432/test';

class UsageError extends Error {}

function parseArgs(argv) {
  const opts = { provider: undefined, check: false, shadowUrl: process.env.SHADOW_DATABASE_URL || undefined };
  for (const arg of argv) {
    if (arg === '--check') opts.check = true;
    else if (arg.startsWith('--shadow-url=')) opts.shadowUrl = arg.slice('--shadow-url='.length);
    else if (arg === '-h' || arg === '--help') opts.help = true;
    else if (!arg.startsWith('-') && !opts.provider) opts.provider = arg;
    else throw new UsageError(`unknown argument: ${arg}`);
  }
  if (opts.help) return opts;
  if (!opts.provider || !PROVIDERS[opts.provider]) {
    throw new UsageError(`expected a provider: ${Object.keys(PROVIDERS).join(' | ')}`);
  }
  opts.folder = opts.provider === 'postgresql' ? 'postgres' : opts.provider;
  opts.adapterProvider = PROVIDERS[opts.provider];
  if (opts.adapterProvider === 'postgres' && opts.shadowUrl === undefined) opts.shadowUrl = DEFAULT_SHADOW_URL;
  return opts;
}

// --- loading the engine ----------------------------------------------------------------

async function loadEngine() {
  // The package's main entry does `import * as wasm from "./schema_engine_bg.wasm"`, which Node
  // refuses (ERR_UNKNOWN_FILE_EXTENSION). Load the JS glue and instantiate the .wasm ourselves.
  let gluePath;
  try {
    gluePath = require.resolve('@prisma/schema-engine-wasm/schema_engine_bg');
  } catch {
    throw new Error('cannot resolve @prisma/schema-engine-wasm; install it (devDependency, exact version)');
  }
  const glue = await import(pathToFileURL(gluePath).href);
  const wasmPath = path.join(path.dirname(gluePath), 'schema_engine_bg.wasm');
  const module = new WebAssembly.Module(fs.readFileSync(wasmPath));
  const [{ module: importModule }] = WebAssembly.Module.imports(module);
  const instance = new WebAssembly.Instance(module, { [importModule]: glue });
  glue.__wbg_set_wasm(instance.exports);
  instance.exports.__wbindgen_start();

  // A Rust panic reports its message through this global; without it a panic is an opaque
  // "RuntimeError: unreachable".
  const registry = { message: undefined, set_message(m) { this.message = m; } };
  globalThis.PRISMA_WASM_PANIC_REGISTRY ??= registry;

  warnOnVersionMismatch(glue.version());
  return glue;
}

function warnOnVersionMismatch(engineHash) {
  try {
    const prismaPkg = require(require.resolve('prisma/package.json', { paths: [path.join(root, 'apps/api'), root] }));
    const pinned = readPrismaCliEngineVersion(prismaPkg);
    if (pinned && !pinned.endsWith(engineHash)) {
      console.error(`warning: @prisma/schema-engine-wasm is build ${engineHash}, prisma ${prismaPkg.version} uses ${pinned}`);
    }
  } catch {
    // prisma CLI not installed: nothing to compare with.
  }
}

function readPrismaCliEngineVersion(prismaPkg) {
  // @prisma/engines-version is what prisma's own build pins the wasm packages to.
  try {
    const ev = require(require.resolve('@prisma/engines-version/package.json', { paths: [path.join(root, 'apps/api'), root] }));
    if (ev.version && prismaPkg.version && ev.version.startsWith(prismaPkg.version)) return ev.version;
  } catch {
    // Not installed: the version is unknown.
  }
  return undefined;
}

// --- driver adapters -------------------------------------------------------------------

function resolveFrom(spec, ...bases) {
  for (const base of bases) {
    try {
      return createRequire(base).resolve(spec);
    } catch {
      // Not resolvable from this base: try the next.
    }
  }
  try {
    return require.resolve(spec);
  } catch {
    // Not resolvable at all: the caller reports it.
  }
  return undefined;
}

async function importResolved(spec, ...bases) {
  const p = resolveFrom(spec, ...bases, path.join(root, 'apps/api/package.json'), path.join(root, 'package.json'));
  if (!p) return undefined;
  return import(pathToFileURL(p).href);
}

async function adapterUtils() {
  // A dependency of every @prisma/adapter-*; resolve it next to the one we use.
  const sqliteAdapter = resolveFrom('@prisma/adapter-better-sqlite3', path.join(root, 'apps/api/package.json'), path.join(root, 'package.json'));
  const utils = await importResolved('@prisma/driver-adapter-utils', ...(sqliteAdapter ? [sqliteAdapter] : []));
  if (!utils) throw new Error('cannot resolve @prisma/driver-adapter-utils (comes with @prisma/adapter-*)');
  return utils;
}

// The engine runs a whole migration script through executeRaw on SQLite; better-sqlite3's
// prepare() only takes one statement, so such scripts go through exec() instead.
function allowMultiStatementScripts(adapter) {
  const executeRaw = adapter.executeRaw.bind(adapter);
  adapter.executeRaw = async (query) => {
    try {
      return await executeRaw(query);
    } catch (err) {
      const message = String(err?.message ?? '') + String(err?.cause?.message ?? '');
      if (query.args.length === 0 && /more than one statement/i.test(message)) {
        await adapter.executeScript(query.sql);
        return 0;
      }
      throw err;
    }
  };
  return adapter;
}

async function sqliteFactory() {
  const mod = await importResolved('@prisma/adapter-better-sqlite3');
  if (!mod) throw new Error('cannot resolve @prisma/adapter-better-sqlite3');
  const inner = new mod.PrismaBetterSqlite3({ url: ':memory:' });
  return {
    provider: inner.provider,
    adapterName: inner.adapterName,
    connect: async () => allowMultiStatementScripts(await inner.connect()),
    connectToShadowDb: async () => allowMultiStatementScripts(await inner.connectToShadowDb()),
  };
}

// PostgreSQL without a server. On connect the engine asks once whether the default schema
// exists and for the server version; nothing else is queried for a diff between the empty
// schema and a Prisma schema. Any other query fails loudly.
function offlinePostgresAdapter() {
  const fail = (what, sql) =>
    Promise.reject(new Error(`offline postgres adapter: unexpected ${what}${sql ? `: ${sql.slice(0, 200)}` : ''}`));
  return {
    provider: 'postgres',
    adapterName: 'offline-postgres',
    getConnectionInfo: () => ({ schemaName: 'public', supportsRelationJoins: true }),
    queryRaw: async (query) => {
      if (/version\(\)/.test(query.sql) && /pg_namespace/.test(query.sql)) {
        return {
          columnNames: ['exists', 'version', 'numeric_version'],
          columnTypes: [5 /* Boolean */, 7 /* Text */, 0 /* Int32 */],
          rows: [[true, 'PostgreSQL 15.0 (offline)', 150000]],
        };
      }
      return fail('query', query.sql);
    },
    executeRaw: (query) => fail('statement', query.sql),
    executeScript: (sql) => fail('script', sql),
    startTransaction: () => fail('transaction'),
    dispose: async () => {},
  };
}

function pgConfigFromUrl(url) {
  // Hand pg discrete fields: adapter-pg overrides `database` for the shadow database, and pg
  // lets a connectionString win over that override.
  const u = new URL(url);
  const config = {
    host: decodeURIComponent(u.hostname) || undefined,
    port: u.port ? Number(u.port) : undefined,
    user: u.username ? decodeURIComponent(u.username) : undefined,
    password: u.password ? decodeURIComponent(u.password) : undefined,
    database: u.pathname.length > 1 ? decodeURIComponent(u.pathname.slice(1)) : undefined,
  };
  const host = u.searchParams.get('host');
  if (host) config.host = host;
  const sslmode = u.searchParams.get('sslmode');
  if (sslmode && sslmode !== 'disable') config.ssl = { rejectUnauthorized: sslmode === 'verify-full' };
  return config;
}

// adapter-pg 7.10 has no column type for PostgreSQL's one-byte "char" (oid 18), which the
// engine's catalog queries return (relkind, contype, ...): "Column type 'char' could not be
// deserialized". Its values arrive as strings, so report them as text (oid 25).
function textForPgChar(queryable) {
  if (typeof queryable.performIO !== 'function') throw new Error('unexpected @prisma/adapter-pg internals (no performIO)');
  const performIO = queryable.performIO.bind(queryable);
  queryable.performIO = async (query) => {
    const result = await performIO(query);
    for (const field of result?.fields ?? []) if (field.dataTypeID === 18) field.dataTypeID = 25;
    return result;
  };
  if (typeof queryable.startTransaction === 'function') {
    const startTransaction = queryable.startTransaction.bind(queryable);
    queryable.startTransaction = async (...args) => textForPgChar(await startTransaction(...args));
  }
  return queryable;
}

async function postgresFactory(shadowUrl) {
  const factory = {
    provider: 'postgres',
    adapterName: 'offline-postgres',
    connect: async () => offlinePostgresAdapter(),
  };
  if (shadowUrl) {
    const mod = await importResolved('@prisma/adapter-pg');
    if (!mod) throw new Error('a shadow database URL was given but @prisma/adapter-pg cannot be resolved');
    // Not PrismaPg#connectToShadowDb: in adapter-pg 7.10 its dispose drops the temporary
    // database before closing the pool still connected to it, which fails ("being accessed
    // by other users") and leaves the database behind.
    const config = pgConfigFromUrl(shadowUrl);
    factory.connectToShadowDb = async () => {
      const admin = await new mod.PrismaPg(config).connect();
      const name = `prisma_migrate_shadow_db_${globalThis.crypto.randomUUID()}`;
      let shadow;
      try {
        await admin.executeScript(`CREATE DATABASE "${name}"`);
        shadow = await new mod.PrismaPg({ ...config, database: name }).connect();
      } catch (err) {
        await admin.executeScript(`DROP DATABASE IF EXISTS "${name}"`).catch(() => {});
        await admin.dispose();
        throw err;
      }
      textForPgChar(shadow);
      const dispose = shadow.dispose.bind(shadow);
      shadow.dispose = async () => {
        try {
          await dispose();
          await admin.executeScript(`DROP DATABASE IF EXISTS "${name}"`);
        } finally {
          await admin.dispose();
        }
      };
      return shadow;
    };
  }
  return factory;
}

// --- schema and migrations ---------------------------------------------------------------

function loadSchemaFiles(dir) {
  // Like Prisma's folder loader: every *.prisma below the folder, following symlinks,
  // skipping the migrations folder.
  const files = [];
  const walk = (d) => {
    for (const name of fs.readdirSync(d).sort()) {
      const p = path.join(d, name);
      const stat = fs.statSync(p);
      if (stat.isDirectory()) {
        if (name !== 'migrations') walk(p);
      } else if (name.endsWith('.prisma')) {
        files.push({ path: p, content: fs.readFileSync(p, 'utf8') });
      }
    }
  };
  walk(dir);
  if (files.length === 0) throw new Error(`no .prisma files in ${dir}`);
  return files;
}

function loadMigrations(migrationsDir) {
  // Same shape as the Prisma CLI builds for the engine.
  const lockPath = path.join(migrationsDir, 'migration_lock.toml');
  const lockfile = { path: 'migration_lock.toml', content: fs.existsSync(lockPath) ? fs.readFileSync(lockPath, 'utf8') : null };
  const dirs = fs.existsSync(migrationsDir)
    ? fs.readdirSync(migrationsDir, { withFileTypes: true }).filter((e) => e.isDirectory() || (e.isSymbolicLink() && fs.statSync(path.join(migrationsDir, e.name)).isDirectory()))
    : [];
  const migrationDirectories = dirs
    .map((e) => e.name)
    .sort((a, b) => a.localeCompare(b))
    .map((name) => {
      const file = path.join(migrationsDir, name, 'migration.sql');
      let content;
      try {
        content = { tag: 'ok', value: fs.readFileSync(file, 'utf8') };
      } catch (err) {
        content = { tag: 'error', value: err.message };
      }
      return { path: name, migrationFile: { path: 'migration.sql', content } };
    });
  return { baseDir: migrationsDir, lockfile, migrationDirectories, shadowDbInitScript: '' };
}

// --- engine calls --------------------------------------------------------------------------

async function withEngine(glue, schemaFiles, factory, fn) {
  const { bindMigrationAwareSqlAdapterFactory, bindSqlAdapterFactory } = await adapterUtils();
  const bound = factory.connectToShadowDb ? bindMigrationAwareSqlAdapterFactory(factory) : bindSqlAdapterFactory(factory);
  const logs = [];
  const log = (line) => {
    logs.push(line);
    if (process.env.DEBUG_SCHEMA_ENGINE) console.error(line);
  };
  let engine;
  try {
    engine = await glue.SchemaEngine.new({ datamodels: schemaFiles.map((f) => [f.path, f.content]) }, log, bound);
    return await fn(engine);
  } catch (err) {
    throw explainEngineError(err, bound);
  } finally {
    engine?.free();
  }
}

function explainEngineError(err, bound) {
  // "External error id#N" refers to a JS error the adapter raised, kept in its registry.
  const text = String(err?.message ?? err);
  const ids = [...text.matchAll(/External error id#(\d+)/g)].map((m) => Number(m[1]));
  const causes = ids.map((id) => bound.errorRegistry?.consumeError(id)?.error).filter(Boolean);
  const panic = globalThis.PRISMA_WASM_PANIC_REGISTRY?.message;
  const parts = [text.trim()];
  for (const cause of causes) parts.push(`caused by: ${cause?.message ?? cause}`);
  if (panic) parts.push(`engine panic: ${panic}`);
  const e = new Error(parts.join('\n'));
  e.code = err?.code;
  return e;
}

function diff(engine, from, to, { exitCode = false } = {}) {
  return engine.diff({ from, to, script: true, exitCode, filters: NO_FILTER });
}

// The providers share one set of models: every model or enum a provider's schema sees must come
// from prisma/models (normally through a symlink), byte for byte, and nothing else may declare
// one. So the PostgreSQL and SQLite schemas cannot drift apart by hand-copying.
function checkSharedModels(schemaFiles) {
  const modelsDir = path.join(root, 'prisma', 'models');
  const sharedContent = new Set(fs.readdirSync(modelsDir).filter((n) => n.endsWith('.prisma')).map((n) => fs.readFileSync(path.join(modelsDir, n), 'utf8')));
  const declares = /^\s*(model|enum|type|view)\s+\w+\s*\{/m;
  for (const file of schemaFiles) {
    if (!declares.test(file.content)) continue;
    if (!sharedContent.has(file.content)) {
      return `${path.relative(root, file.path)} declares models but is not one of prisma/models/*.prisma (link it there instead of copying)`;
    }
  }
  const seen = new Set(schemaFiles.map((f) => f.content));
  for (const content of sharedContent) if (!seen.has(content)) return `a file of prisma/models is not part of this provider's schema (link it)`;
  return null;
}

// --- text comparison fallback -------------------------------------------------------------

function normaliseSql(sql) {
  return sql
    .split('\n')
    .filter((line) => !/^\s*--/.test(line))
    .join('\n')
    .split(';')
    .map((stmt) => stmt.replace(/\s+/g, ' ').trim())
    .filter(Boolean)
    .filter((stmt) => !/^CREATE SCHEMA IF NOT EXISTS "public"$/i.test(stmt));
}

// --- main ----------------------------------------------------------------------------------

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (opts.help) {
    console.log('usage: node scripts/migration-diff.mjs <sqlite|postgres> [--check] [--shadow-url=URL]');
    return 0;
  }
  const schemaDir = path.join(root, 'prisma', opts.folder);
  const migrationsDir = path.join(schemaDir, 'migrations');
  const schemaFiles = loadSchemaFiles(schemaDir);
  const glue = await loadEngine();
  const schemaTarget = { tag: 'schemaDatamodel', files: schemaFiles };

  if (!opts.check) {
    const factory = opts.adapterProvider === 'sqlite' ? await sqliteFactory() : await postgresFactory();
    const result = await withEngine(glue, schemaFiles, factory, (engine) => diff(engine, { tag: 'empty' }, schemaTarget));
    process.stdout.write(result.stdout ?? '');
    return 0;
  }

  const shared = checkSharedModels(schemaFiles);
  if (shared) {
    console.error(`drift: ${shared}`);
    return 1;
  }

  const migrations = loadMigrations(migrationsDir);
  const names = migrations.migrationDirectories.map((d) => d.path);
  if (names.length === 0) {
    console.error(`drift: no migrations in ${path.relative(root, migrationsDir)}`);
    return 1;
  }

  const engineCheck = opts.adapterProvider === 'sqlite' || Boolean(opts.shadowUrl);
  if (engineCheck) {
    const factory = opts.adapterProvider === 'sqlite' ? await sqliteFactory() : await postgresFactory(opts.shadowUrl);
    const result = await withEngine(glue, schemaFiles, factory, (engine) =>
      diff(engine, { tag: 'migrations', ...migrations }, schemaTarget, { exitCode: true }),
    );
    if (result.exitCode === 0) {
      console.error(`ok: ${names.length} migration(s) in prisma/${opts.folder}/migrations match the schema (checked by the schema engine on a shadow database)`);
      return 0;
    }
    console.error(`drift: applying prisma/${opts.folder}/migrations (${names.join(', ')}) does not produce the schema.`);
    console.error('SQL still needed to reach the schema:\n');
    console.error(result.stdout ?? '');
    return 1;
  }

  // PostgreSQL without a shadow database: text comparison.
  const factory = await postgresFactory();
  const generated = (await withEngine(glue, schemaFiles, factory, (engine) => diff(engine, { tag: 'empty' }, schemaTarget))).stdout ?? '';
  const concatenated = migrations.migrationDirectories
    .map((d) => {
      if (d.migrationFile.content.tag !== 'ok') throw new Error(`${d.path}/migration.sql: ${d.migrationFile.content.value}`);
      return d.migrationFile.content.value;
    })
    .join('\n');
  const want = normaliseSql(generated);
  const have = normaliseSql(concatenated);
  const missing = want.filter((s) => !have.includes(s));
  const extra = have.filter((s) => !want.includes(s));
  const sameOrder = missing.length === 0 && extra.length === 0 && want.length === have.length && want.every((s, i) => s === have[i]);
  const how = 'text comparison; give a shadow database URL for an exact check by the engine';
  if (sameOrder) {
    console.error(`ok: prisma/${opts.folder}/migrations match the schema (${how})`);
    return 0;
  }
  console.error(`drift: prisma/${opts.folder}/migrations differ from the SQL generated from the schema (${how}).`);
  for (const s of missing) console.error(`  missing:    ${s}`);
  for (const s of extra) console.error(`  unexpected: ${s}`);
  if (missing.length === 0 && extra.length === 0) console.error('  same statements, different order or count');
  return 1;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    console.error(err instanceof UsageError ? `usage error: ${err.message}` : `error: ${err.message ?? err}`);
    if (err instanceof UsageError) console.error('usage: node scripts/migration-diff.mjs <sqlite|postgres> [--check] [--shadow-url=URL]');
    process.exitCode = 2;
  },
);
