// zod's locales index as the daemon bundle sees it (scripts/build.mjs): the real one re-exports
// every language zod ships (about 260 KiB, over a quarter of the daemon's bundle, held in memory
// as source text by V8); config errors are in English (the default zod installs itself).
export { default as en } from 'zod/v4/locales/en.js';
