// MemoryStore: the embedded default. State for one process, in a Map, bounded in size, with
// expired credentials swept. The rules are the same as RedisStore's Lua scripts (redis.ts);
// the shared store suite (test/store.test.ts) holds both to them.
//
// One process only: two verifier processes with a MemoryStore each would each accept a code
// once. Use RedisStore for a fleet.

import { intOption, optionsObject, TotpFleetError } from '../errors.js';
import {
  type AttemptLimits, type BackupCodeInfo, type BackupCodeSet, type BeginResult, type FinishOps, type Store, beginResult,
  BEGIN_ERROR, BEGIN_GO, BEGIN_LOCKED, DONE_COMMITTED, DONE_FAILED, DONE_LOCKED, DONE_RELEASED, DONE_REPLAYED,
  NAMESPACE_NAME, OP_FAILURE, OP_RESET, OP_SUCCESS,
} from './types.js';

export interface MemoryStoreOptions {
  /** Credentials kept at most (1..100,000,000); default 1,000,000. When full of live state, new credentials get `error`. */
  maxCredentials?: number;
  /** @internal The clock, in ms (tests). */
  now?: () => number;
}

/** One credential's state. Times are ms since the epoch; 0 means "not set". */
interface Credential {
  /** High-water mark: the last accepted step, -1 when none. */
  h: number;
  /** Consecutive failures, meaningful while fu > now. */
  f: number;
  fu: number;
  /** Locked until. */
  l: number;
  /** Attempts in flight, meaningful while pu > now. */
  p: number;
  pu: number;
  /** Learned drift, in steps. */
  d: number;
  /** The whole record may be dropped at this time. */
  x: number;
}

/** One account's backup-code set. */
interface BackupSet {
  salt: string;
  hashes: Set<string>;
  createdAt: number;
  /** Dropped at this time. */
  x: number;
}

const SWEEP_EVERY_MS = 60_000;

/**
 * Per-credential state in this process's memory.
 *
 * @example
 * const verifier = await TotpVerifier.create({ store: new MemoryStore({ maxCredentials: 2_000_000 }) });
 */
export class MemoryStore implements Store {
  readonly #map = new Map<string, Credential>();
  /** Backup-code sets, by account (bounded by maxCredentials too). */
  readonly #backup = new Map<string, BackupSet>();
  /** Namespaces made by `namespace()`, closed with this store. */
  readonly #spaces = new Map<string, MemoryStore>();
  readonly #max: number;
  readonly #now: () => number;
  readonly #timer: NodeJS.Timeout;
  #lastFullSweep = -Infinity;
  #closed = false;

  constructor(opts?: MemoryStoreOptions) {
    const o = optionsObject<MemoryStoreOptions>('opts', opts);
    this.#max = intOption('maxCredentials', o.maxCredentials, 1, 100_000_000, 1_000_000);
    if (o.now !== undefined && typeof o.now !== 'function') throw new TypeError('"now" expected a function');
    this.#now = o.now ?? Date.now;
    this.#timer = setInterval(() => this.#sweep(this.#now()), SWEEP_EVERY_MS).unref();
  }

  /** Credentials held (live or not yet swept). */
  get size(): number {
    return this.#map.size;
  }

  async begin(accounts: readonly string[], limits: AttemptLimits): Promise<BeginResult> {
    this.#assertOpen();
    const now = this.#now();
    const out = beginResult(accounts.length);
    for (let i = 0; i < accounts.length; i++) {
      let c = this.#live(accounts[i]!, now);
      if (c === undefined) {
        c = this.#create(accounts[i]!, now);
        if (c === undefined) {
          out.state[i] = BEGIN_ERROR;
          continue;
        }
      }
      if (c.l > now) {
        out.state[i] = BEGIN_LOCKED;
        out.retryAfterMs[i] = c.l - now;
        continue;
      }
      const f = c.fu > now ? c.f : 0;
      const p = c.pu > now ? c.p : 0;
      if (f + p >= limits.maxFailures) {
        // Only attempts in flight stand in the way: they end, or expire, by pu.
        out.state[i] = BEGIN_LOCKED;
        out.retryAfterMs[i] = p > 0 ? c.pu - now : limits.lockoutMs;
        continue;
      }
      c.p = p + 1;
      c.pu = now + limits.reservationMs;
      if (c.x < c.pu) c.x = c.pu;
      out.state[i] = BEGIN_GO;
      out.lastStep[i] = c.h;
      out.drift[i] = c.d;
    }
    return out;
  }

  async finish(accounts: readonly string[], ops: FinishOps, limits: AttemptLimits): Promise<Uint8Array> {
    this.#assertOpen();
    const now = this.#now();
    const out = new Uint8Array(accounts.length);
    for (let i = 0; i < accounts.length; i++) {
      const account = accounts[i]!;
      let c = this.#live(account, now);
      const p = c !== undefined && c.pu > now ? Math.max(0, c.p - 1) : 0;
      const op = ops.op[i];
      if (op === OP_SUCCESS) {
        const step = ops.step[i]!;
        if (c !== undefined && c.h >= step) {
          c.p = p;
          out[i] = DONE_REPLAYED;
          continue;
        }
        c ??= this.#insert(account);
        c.h = step;
        c.f = 0;
        c.fu = 0;
        c.l = 0;
        c.p = p;
        c.x = Math.max(c.x, now + limits.replayMs);
        const drift = ops.drift[i]!;
        if (!Number.isNaN(drift)) {
          c.d = drift;
          c.x = Math.max(c.x, now + limits.driftMemoryMs);
        }
        out[i] = DONE_COMMITTED;
      } else if (op === OP_FAILURE) {
        c ??= this.#insert(account);
        const f = (c.fu > now ? c.f : 0) + 1;
        c.p = p;
        if (f >= limits.maxFailures) {
          c.l = now + limits.lockoutMs;
          c.f = 0;
          c.fu = 0;
          c.x = Math.max(c.x, c.l);
          out[i] = DONE_LOCKED;
        } else {
          c.f = f;
          c.fu = now + limits.failureMemoryMs;
          c.x = Math.max(c.x, c.fu);
          out[i] = DONE_FAILED;
        }
      } else if (op === OP_RESET) {
        if (c !== undefined) {
          c.f = 0;
          c.fu = 0;
          c.l = 0;
          c.p = p;
        }
        out[i] = DONE_COMMITTED;
      } else {
        if (c !== undefined) c.p = p;
        out[i] = DONE_RELEASED;
      }
    }
    return out;
  }

  async health(): Promise<void> {
    this.#assertOpen();
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    this.#map.clear();
    this.#backup.clear();
    for (const space of this.#spaces.values()) await space.close();
  }

  namespace(name: string): MemoryStore {
    if (typeof name !== 'string' || !NAMESPACE_NAME.test(name)) throw new TypeError('"name" expected a namespace name like \'hotp\'');
    let space = this.#spaces.get(name);
    if (space === undefined) {
      space = new MemoryStore({ maxCredentials: this.#max, now: this.#now });
      this.#spaces.set(name, space);
    }
    return space;
  }

  async forget(account: string): Promise<void> {
    this.#assertOpen();
    this.#map.delete(account);
  }

  async putBackupCodes(account: string, set: BackupCodeSet, keepMs: number): Promise<void> {
    this.#assertOpen();
    const now = this.#now();
    if (!this.#backup.has(account) && this.#backup.size >= this.#max) {
      for (const [a, b] of this.#backup) if (b.x <= now) this.#backup.delete(a);
      if (this.#backup.size >= this.#max) throw new TotpFleetError('ERR_STORE_UNAVAILABLE', 'the store is full');
    }
    this.#backup.set(account, { salt: set.salt, hashes: new Set(set.hashes), createdAt: set.createdAt, x: now + keepMs });
  }

  async backupCodeInfo(account: string): Promise<BackupCodeInfo | undefined> {
    this.#assertOpen();
    const b = this.#liveBackup(account);
    return b === undefined ? undefined : { salt: b.salt, remaining: b.hashes.size, createdAt: b.createdAt };
  }

  async consumeBackupCode(account: string, hash: string): Promise<number> {
    this.#assertOpen();
    const b = this.#liveBackup(account);
    return b !== undefined && b.hashes.delete(hash) ? b.hashes.size : -1;
  }

  async deleteBackupCodes(account: string): Promise<void> {
    this.#assertOpen();
    this.#backup.delete(account);
  }

  #liveBackup(account: string): BackupSet | undefined {
    const b = this.#backup.get(account);
    if (b !== undefined && b.x <= this.#now()) {
      this.#backup.delete(account);
      return undefined;
    }
    return b;
  }

  #assertOpen(): void {
    if (this.#closed) throw new TotpFleetError('ERR_STORE_UNAVAILABLE', 'the store is closed');
  }

  /** The credential's record unless it has expired (then it is dropped). */
  #live(account: string, now: number): Credential | undefined {
    const c = this.#map.get(account);
    if (c !== undefined && c.x <= now) {
      this.#map.delete(account);
      return undefined;
    }
    return c;
  }

  /** A new record, if there is room (after sweeping expired ones at most once a second). */
  #create(account: string, now: number): Credential | undefined {
    if (this.#map.size >= this.#max && now - this.#lastFullSweep >= 1000) {
      this.#lastFullSweep = now;
      this.#sweep(now);
    }
    return this.#map.size >= this.#max ? undefined : this.#insert(account);
  }

  #insert(account: string): Credential {
    const c: Credential = { h: -1, f: 0, fu: 0, l: 0, p: 0, pu: 0, d: 0, x: 0 };
    this.#map.set(account, c);
    return c;
  }

  #sweep(now: number): void {
    for (const [account, c] of this.#map) if (c.x <= now) this.#map.delete(account);
    for (const [account, b] of this.#backup) if (b.x <= now) this.#backup.delete(account);
  }
}
