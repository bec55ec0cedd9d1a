// ESLint for the whole repository (flat config), run by `npm run check`.
//
// Type-aware throughout: each file is checked with the types of the tsconfig that owns it
// (typescript-eslint's project service finds it), so the rules that need types, the reason we lint
// at all, see what tsc sees:
// - no-floating-promises: a promise nobody awaits or catches loses its rejection (an unhandled
//   rejection ends the process). When not waiting is the point, say so with `void`.
// - no-misused-promises: an async function where a callback's result is ignored (an event
//   handler, `setInterval`) has the same problem, hidden.
// - switch-exhaustiveness-check: a new member of a union (an event type, a frame kind) must be
//   handled by every switch over it. A `default:` does not count for a union: a switch lists the
//   members it ignores, so adding a member is a decision at every switch, not a silent default.
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import svelte from 'eslint-plugin-svelte';
import globals from 'globals';
import tseslint from 'typescript-eslint';
import svelteConfig from './apps/web/svelte.config.js';

export default defineConfig(
  {
    // What .gitignore leaves out (build output, generated clients, data, reports), and the benchmark's results.
    ignores: ['**/dist/**', '**/node_modules/**', 'apps/api/src/generated/**', 'bench/results/**', 'data/**', 'coverage/**', 'test-results/**', '**/.vite/**'],
  },
  js.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  svelte.configs.recommended,
  {
    languageOptions: {
      ecmaVersion: 2023,
      sourceType: 'module',
      parserOptions: {
        projectService: {
          // Files no tsconfig includes (the web app's build config, this file) get a default
          // project, still type-checked. (scripts/tsconfig.json covers the other scripts;
          // build-stamp.mjs hides behind its own .d.mts there.)
          allowDefaultProject: ['scripts/build-stamp.mjs', 'apps/web/vite.config.ts', 'apps/web/svelte.config.js', 'eslint.config.js'],
        },
        tsconfigRootDir: import.meta.dirname,
        extraFileExtensions: ['.svelte'],
      },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      // `_name` marks a parameter a signature needs and the body does not.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      // A caught `unknown` passed on as it is (Promise.reject(err) in a catch) is not a new non-Error.
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingUnknown: true }],
      // ws hands a text frame over as a Buffer (binaryType 'nodebuffer', its default, everywhere
      // here); its RawData type also admits ArrayBuffer, which would flag every String(frame).
      '@typescript-eslint/no-base-to-string': ['error', { ignoredTypeNames: ['Error', 'RegExp', 'URL', 'URLSearchParams', 'ArrayBuffer'] }],
      // A `function` handler that needs the socket as `this` names its owner instead of `self`.
      '@typescript-eslint/no-this-alias': ['error', { allowedNames: ['adapter', 'repository'] }],
      // `async` without `await` is how a function implements an async interface (the fakes in the
      // specs) or turns its throws into rejections; a forgotten await is no-floating-promises' job.
      '@typescript-eslint/require-await': 'off',
      // A `let` read by a callback before its one assignment (a server's handler) stays a `let`.
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
      // A unit of database work is a generator (repositories/sql.ts) whether or not it queries.
      'require-yield': 'off',
    },
  },
  {
    // Node's own globals for the server, the benchmark, the tests and the scripts.
    files: ['apps/api/**', 'apps/bench/**', 'test/**', 'scripts/**', '*.js', '*.ts', 'apps/web/*.js', 'apps/web/*.ts'],
    languageOptions: { globals: globals.node },
  },
  {
    // vitest's asymmetric matchers (expect.any(Number), expect.stringMatching(...)) are typed `any`.
    files: ['test/**', '**/*.spec.ts'],
    rules: { '@typescript-eslint/no-unsafe-assignment': 'off' },
  },
  {
    // Its page.evaluate callbacks run in the browser.
    files: ['scripts/measure-browser.mjs'],
    languageOptions: { globals: { ...globals.node, ...globals.browser } },
  },
  {
    // The scripts are untyped JavaScript: everything from JSON.parse or a dynamic import is `any`,
    // so the no-unsafe family would flag every line. The promise rules still apply.
    files: ['scripts/**/*.mjs', '**/*.js'],
    rules: {
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
  {
    files: ['apps/web/src/**'],
    languageOptions: { globals: globals.browser },
  },
  {
    // Svelte components (and runes modules): the Svelte parser, with TypeScript inside <script lang="ts">.
    files: ['**/*.svelte', '**/*.svelte.ts'],
    languageOptions: {
      parserOptions: {
        parser: tseslint.parser,
        svelteConfig,
      },
    },
    rules: {
      // `let { ... } = $props()` is how Svelte 5 declares props: the Svelte variant knows the runes.
      'prefer-const': 'off',
      'svelte/prefer-const': ['error', { destructuring: 'all' }],
    },
  },
  {
    // In markup, a callback passed to a child component (`onEdit={(text) => ...}`) is not typed
    // against the child's props by the Svelte parser, so its parameters look `any` here; svelte-check
    // (npm run typecheck) does type them. The <script> blocks and the .svelte.ts modules keep the rules.
    files: ['**/*.svelte'],
    rules: {
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
    },
  },
  {
    // The state classes keep what the UI renders in $state fields, and their private bookkeeping
    // (pending acks, timers by key, seen ids) in plain Map/Set/Date on purpose: a SvelteMap would
    // make every internal lookup a tracked signal and re-run effects that never read it.
    // Components (.svelte) keep the rule.
    files: ['apps/web/src/**/*.svelte.ts'],
    rules: { 'svelte/prefer-svelte-reactivity': 'off' },
  },
);
