// `npm run db:migrate`: applies pending migrations to the configured database and exits.
import { loadConfig } from '../config/app-config.js';
import { migrate } from '../boot/migrations.js';

const config = loadConfig();
const applied = await migrate(config.databaseProvider, config.databaseUrl);
console.log(applied.length ? `Applied: ${applied.join(', ')}` : 'Database is up to date');
