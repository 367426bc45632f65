// Polls a condition until it holds or the time is up; the error says what was awaited (and, for
// process tests, the tail of the logs).
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string, context: () => string = () => ''): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  const extra = context();
  throw new Error(`timed out waiting for ${what}${extra ? `; ${extra}` : ''}`);
}
