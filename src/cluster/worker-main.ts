// Entry of dist/node-local-dns-worker.cjs, the script a DNS worker thread runs (workers > 1):
// only the serving code, so each worker thread compiles and keeps less than the whole bundle.
import { workerThreadData } from '../util/thread-data.js';
import { runWorkerThread } from './worker.js';

if (workerThreadData) runWorkerThread(workerThreadData);
else {
  console.error('node-local-dns-worker.cjs is started by node-local-dns as a worker thread (workers > 1), not on its own');
  process.exitCode = 2;
}
