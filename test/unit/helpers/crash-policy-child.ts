// A process with the crash policy installed, driven by argv, for test/unit/crash-policy.test.ts.
// Prints one line per event on stdout (pino JSON lines from the policy's logger, plus ours).
//   rejections N   : N unhandled rejections, then "panics=N" and "alive" one timer later
//   throw          : an exception thrown from a timer; the teardown prints "teardown done"
//   throw-hang     : the same, but the teardown never finishes (the deadline exits)
import { installCrashPolicy } from '../../../src/util/crash-policy.js';
import { createLogger } from '../../../src/log/logger.js';

const [mode, arg] = process.argv.slice(2);
let panics = 0;
const out = (line: string) => process.stdout.write(`${line}\n`);
installCrashPolicy({
  logger: createLogger('info'),
  countPanic: () => panics++,
  fatal: (reason) =>
    mode === 'throw-hang'
      ? new Promise<void>(() => out(`teardown started: ${reason}`))
      : new Promise<void>((resolve) =>
          setTimeout(() => {
            out(`teardown done: ${reason}`);
            resolve();
          }, 50),
        ),
  fatalExitMs: 300,
});
const keepAlive = setInterval(() => undefined, 1000);

if (mode === 'rejections') {
  for (let i = 0; i < Number(arg); i++) void Promise.reject(new Error(`rejection ${i}`));
  setTimeout(() => {
    out(`panics=${panics}`);
    out('alive');
    clearInterval(keepAlive);
  }, 100);
} else {
  setTimeout(() => {
    throw new Error('boom from a timer');
  }, 10);
}
