// Read by both vite-plugin-svelte and svelte-check.
/** @type {import('svelte/compiler').CompileOptions} */
const compilerOptions = {
  // Runes only: a component that slips back to legacy `export let` or `$:` fails to compile.
  runes: true,
};

export default { compilerOptions };
