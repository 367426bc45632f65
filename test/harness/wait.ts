// Polling helpers for tests: wait until a condition holds, bounded in time.

/** Polls `check` every `pollMs` until it returns something truthy or `timeoutMs` passes; says which. */
export async function waitUntil(check: () => unknown, timeoutMs: number, pollMs = 50): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() >= until) return false;
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

/**
 * Polls `check` until it returns something truthy and resolves with that value; throws when the
 * time is up, saying what was awaited (and, for process tests, `context()`, e.g. the logs' tail).
 */
export async function waitFor<T>(check: () => T | Promise<T>, timeoutMs: number, what: string, context: () => string = () => '', pollMs = 50): Promise<NonNullable<T>> {
  let value: T | undefined;
  if (await waitUntil(async () => (value = await check()), timeoutMs, pollMs)) return value as NonNullable<T>;
  const extra = context();
  throw new Error(`timed out waiting for ${what} (${timeoutMs} ms)${extra ? `; ${extra}` : ''}`);
}
