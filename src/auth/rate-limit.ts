// Sign-in throttling: failed attempts are counted per client address and per account in
// fixed windows. Kept in memory: a restart forgets them, which only helps a legitimate user.
export interface LimitRule {
  max: number;
  windowMs: number;
}

export class AttemptLimiter {
  readonly #rule: LimitRule;
  readonly #now: () => number;
  readonly #entries = new Map<string, { count: number; windowStart: number }>();

  constructor(rule: LimitRule, now: () => number) {
    this.#rule = rule;
    this.#now = now;
  }

  /** Milliseconds until the key may try again, or 0 if it may try now. */
  blockedFor(key: string): number {
    const entry = this.#entries.get(key);
    if (!entry) return 0;
    const elapsed = this.#now() - entry.windowStart;
    if (elapsed >= this.#rule.windowMs) {
      this.#entries.delete(key);
      return 0;
    }
    return entry.count >= this.#rule.max ? this.#rule.windowMs - elapsed : 0;
  }

  recordFailure(key: string): void {
    const now = this.#now();
    const entry = this.#entries.get(key);
    if (!entry || now - entry.windowStart >= this.#rule.windowMs) {
      this.#entries.set(key, { count: 1, windowStart: now });
      if (this.#entries.size > 10_000) this.#sweep(now);
    } else {
      entry.count++;
    }
  }

  reset(key: string): void {
    this.#entries.delete(key);
  }

  #sweep(now: number): void {
    for (const [key, entry] of this.#entries) {
      if (now - entry.windowStart >= this.#rule.windowMs) this.#entries.delete(key);
    }
  }
}

export const IP_RULE: LimitRule = { max: 20, windowMs: 15 * 60 * 1000 };
export const ACCOUNT_RULE: LimitRule = { max: 5, windowMs: 15 * 60 * 1000 };
