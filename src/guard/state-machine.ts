// The guard's whole decision logic, pure (no I/O, no timers): it is fed the outcome of each probe
// round with the time it finished and answers with the transition to make, if any. The runner
// (./run.ts) does the probing and carries out the actions; tests drive this with a manual clock.
//
//   starting ──answered──────────────────────────────▶ serving
//      │ no answer for startGraceMs (daemon never came up)   │ no answer
//      ▼                                                      ▼
//   fallback ◀── no answer for graceMs since the last one ── suspect ──answered──▶ serving
//      │  ▲ (take-over: daemon's rules and ClusterIP address removed, standby relay bound)
//      │  └───── no answer ──────────┐
//      ▼ answered                    │
//   recovering ──answered for recoverMs──▶ serving (hand-back: relay and guard rules removed,
//                                                   daemon's rules and addresses re-ensured)
//
// Ownership follows the state: in starting/serving/suspect the daemon owns every rule and address;
// from take-over to hand-back the guard owns the node's DNS path (recovering keeps the guard's
// relay until the daemon has answered steadily, so a crash-looping daemon does not flap the node).

export type GuardState = 'starting' | 'serving' | 'suspect' | 'fallback' | 'recovering';
export type GuardAction = 'take-over' | 'hand-back';

export const GUARD_STATES: readonly GuardState[] = ['starting', 'serving', 'suspect', 'fallback', 'recovering'];

export interface GuardTimings {
  /** No answer for this long (since the last answer) → take over. */
  readonly graceMs: number;
  /** After the guard starts, how long the daemon may take to answer for the first time. */
  readonly startGraceMs: number;
  /** In fallback, the daemon must answer this long before the node is handed back. */
  readonly recoverMs: number;
}

export interface Transition {
  readonly from: GuardState;
  readonly to: GuardState;
  /** What the runner must do now (null: only the state changed). */
  readonly action: GuardAction | null;
  /** How long the daemon had not answered (take-over) or had answered (hand-back), in ms. */
  readonly forMs: number;
}

export class GuardStateMachine {
  private current: GuardState = 'starting';
  private enteredAt: number;
  private lastAnswerAt: number | null = null;

  constructor(
    private readonly timings: GuardTimings,
    startedAt: number,
  ) {
    if (!(timings.graceMs > 0) || !(timings.startGraceMs > 0) || !(timings.recoverMs >= 0)) throw new Error('guard timings must be positive');
    this.enteredAt = startedAt;
  }

  get state(): GuardState {
    return this.current;
  }

  /** True while the guard owns the node's DNS path (its relay and rules are in place). */
  get ownsNode(): boolean {
    return this.current === 'fallback' || this.current === 'recovering';
  }

  /** Feeds one probe round (`answered`: the daemon answered on at least one local IP) at time `now`. */
  observe(answered: boolean, now: number): Transition | null {
    const silentFor = now - (this.lastAnswerAt ?? this.enteredAt);
    if (answered) this.lastAnswerAt = now;
    switch (this.current) {
      case 'starting':
        if (answered) return this.move('serving', null, 0, now);
        return silentFor >= this.timings.startGraceMs ? this.move('fallback', 'take-over', silentFor, now) : null;
      case 'serving':
        return answered ? null : this.move('suspect', null, silentFor, now);
      case 'suspect':
        if (answered) return this.move('serving', null, 0, now);
        return silentFor >= this.timings.graceMs ? this.move('fallback', 'take-over', silentFor, now) : null;
      case 'fallback':
        return answered ? this.move('recovering', null, 0, now) : null;
      case 'recovering': {
        if (!answered) return this.move('fallback', null, silentFor, now);
        const steadyFor = now - this.enteredAt;
        return steadyFor >= this.timings.recoverMs ? this.move('serving', 'hand-back', steadyFor, now) : null;
      }
    }
  }

  private move(to: GuardState, action: GuardAction | null, forMs: number, now: number): Transition {
    const from = this.current;
    this.current = to;
    this.enteredAt = now;
    return { from, to, action, forMs };
  }
}
