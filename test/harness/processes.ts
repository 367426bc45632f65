// Cleanup for tests that start daemons as processes: SIGKILL each pid, ignoring those already gone.
export function killAll(pids: Iterable<number>): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}
