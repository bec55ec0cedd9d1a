// `npm run db:migrate`: applies pending migrations to the configured database and exits.
import { loadConfig } from '../config/app-config.js';
import { migrateSqlite, sqlitePath } from '../repositories/migrations.js';

const config = loadConfig();
const applied = migrateSqlite(sqlitePath(config.databaseUrl));
console.log(applied.length ? `Applied: ${applied.join(', ')}` : 'Database is up to date');
