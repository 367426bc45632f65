// Entry of the tools (`load`, `query`): main.ts imports this module only when one of them runs,
// so the daemon never loads their code; a bundler can make it a separate file.
export { runLoad } from './load/run.js';
export { runQuery } from './query.js';
