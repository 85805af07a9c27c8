// RedisStore: per-credential state in Redis, shared by every verifier process of a fleet.
//
// - Each begin / finish is a Lua script (scripts.ts): check-and-mark and count-and-lock are
//   atomic. A batch is split into calls of at most `accountsPerCall` credentials (so that no
//   script blocks Redis for long), all sent in one pipeline: one round trip per batch.
// - One hash per credential, `<prefix>{cred:<account>}`: the hash tag keeps a credential on one
//   slot. With an ioredis Cluster client, calls are grouped by slot.
// - EVALSHA; a call answered NOSCRIPT (a restarted server, SCRIPT FLUSH) did not run, and is
//   sent again once with EVAL, which loads the script.
// - Fail closed: no offline queue, no resending of commands whose answer was lost, and a
//   command timeout. Any failure rejects the call with ERR_STORE_UNAVAILABLE; the verifier
//   answers `error` for its items. A command that timed out may still run later: a reservation
//   then lapses after `reservationMs`, and a committed mark only makes the code count as used.
// - Every key has a TTL. A failover to a replica can lose a mark Redis had acknowledged
//   (replication is asynchronous): the code could then be accepted once more (README).

import { createHash } from 'node:crypto';
import calculateSlot from 'cluster-key-slot';
import { Redis, type Cluster, type RedisOptions } from 'ioredis';
import { intOption, optionsObject, TotpFleetError } from '../errors.js';
import { BACKUP_CONSUME, BACKUP_INFO, BACKUP_PUT, BEGIN, FINISH, HEALTH } from './scripts.js';
import {
  type AttemptLimits, type BackupCodeInfo, type BackupCodeSet, type BeginResult, type FinishOps, type Store, beginResult,
  BEGIN_LOCKED, NAMESPACE_NAME,
} from './types.js';

export interface RedisStoreOptions {
  /** `redis://host:port/db` (or `rediss://`); default redis://127.0.0.1:6379. Ignored with `client`. */
  url?: string;
  /**
   * An ioredis client (Redis or Cluster) to use instead; the caller owns it (close() leaves it
   * open). Configure it to fail fast as this store does: `enableOfflineQueue: false`,
   * `autoResendUnfulfilledCommands: false`, a `commandTimeout`.
   */
  client?: Redis | Cluster;
  /** Key prefix; default 'totp-fleet:'. */
  prefix?: string;
  /** Longest wait for any command, in ms (10..60,000); default 1000. */
  commandTimeoutMs?: number;
  /** Credentials per script call (1..10,000); default 500. */
  accountsPerCall?: number;
}

type Script = { source: string; sha: string };

function script(source: string): Script {
  return { source, sha: createHash('sha1').update(source).digest('hex') };
}

const SCRIPTS = {
  begin: script(BEGIN), finish: script(FINISH), health: script(HEALTH),
  backupPut: script(BACKUP_PUT), backupInfo: script(BACKUP_INFO), backupConsume: script(BACKUP_CONSUME),
};

function unavailable(cause: unknown): TotpFleetError {
  // The cause is Redis's own error (connection refused, timeout, script error): it never holds
  // a code or a secret, only key names, which hold accounts.
  return new TotpFleetError('ERR_STORE_UNAVAILABLE', 'the Redis store did not answer', { cause });
}

function isNoScript(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('NOSCRIPT');
}

/** A script call: its keys and arguments. */
interface Call {
  keys: string[];
  args: string[];
  /** Where its answers go among the batch's accounts. */
  at: number[];
}

/**
 * Per-credential state in Redis.
 *
 * @example
 * const store = new RedisStore({ url: process.env.REDIS_URL });
 * const verifier = await TotpVerifier.create({ store });
 * ...
 * await verifier.close();
 * await store.close();
 */
export class RedisStore implements Store {
  readonly #client: Redis | Cluster;
  readonly #owned: boolean;
  readonly #prefix: string;
  readonly #perCall: number;
  readonly #timeoutMs: number;
  /** Namespaces made by `namespace()`: same client, closed with this store. */
  readonly #spaces = new Map<string, RedisStore>();
  #closed = false;

  constructor(opts?: RedisStoreOptions) {
    const o = optionsObject<RedisStoreOptions>('opts', opts);
    const timeout = intOption('commandTimeoutMs', o.commandTimeoutMs, 10, 60_000, 1000);
    this.#perCall = intOption('accountsPerCall', o.accountsPerCall, 1, 10_000, 500);
    this.#timeoutMs = timeout;
    if (o.prefix !== undefined && typeof o.prefix !== 'string') throw new TypeError('"prefix" expected a string');
    this.#prefix = o.prefix ?? 'totp-fleet:';
    if (o.client !== undefined) {
      this.#client = o.client;
      this.#owned = false;
      return;
    }
    if (o.url !== undefined && typeof o.url !== 'string') throw new TypeError('"url" expected a string');
    const options: RedisOptions = {
      commandTimeout: timeout,
      connectTimeout: Math.max(timeout, 1000),
      enableOfflineQueue: false,
      autoResendUnfulfilledCommands: false,
      maxRetriesPerRequest: 0,
      // Reconnect for ever, backing off to 2 s: the store recovers by itself when Redis is back.
      retryStrategy: (times) => Math.min(times * 100, 2000),
    };
    this.#client = o.url === undefined ? new Redis(options) : new Redis(o.url, options);
    this.#owned = true;
    // Connection errors surface as rejected calls (ERR_STORE_UNAVAILABLE); without a listener
    // ioredis would print each reconnection failure.
    this.#client.on('error', () => {});
  }

  /** The key holding a credential's state. */
  keyOf(account: string): string {
    return `${this.#prefix}{cred:${account}}`;
  }

  async begin(accounts: readonly string[], limits: AttemptLimits): Promise<BeginResult> {
    const out = beginResult(accounts.length);
    const args = [limits.maxFailures, limits.reservationMs, limits.lockoutMs].map(String);
    const calls = this.#calls(accounts, () => args.slice(), () => []);
    const answers = await this.#run(SCRIPTS.begin, calls);
    for (let c = 0; c < calls.length; c++) {
      const { at } = calls[c]!;
      const values = answers[c] as (number | string)[];
      for (let j = 0; j < at.length; j++) {
        const i = at[j]!;
        const state = Number(values[3 * j]);
        out.state[i] = state;
        if (state === BEGIN_LOCKED) out.retryAfterMs[i] = Number(values[3 * j + 1]);
        else {
          out.lastStep[i] = Number(values[3 * j + 1]);
          out.drift[i] = Number(values[3 * j + 2]);
        }
      }
    }
    return out;
  }

  async finish(accounts: readonly string[], ops: FinishOps, limits: AttemptLimits): Promise<Uint8Array> {
    const out = new Uint8Array(accounts.length);
    const head = [limits.maxFailures, limits.lockoutMs, limits.failureMemoryMs, limits.replayMs, limits.driftMemoryMs]
      .map(String);
    const calls = this.#calls(accounts, () => head.slice(), (i) => {
      const drift = ops.drift[i]!;
      return [String(ops.op[i]), String(ops.step[i]), Number.isNaN(drift) ? '' : String(drift)];
    });
    const answers = await this.#run(SCRIPTS.finish, calls);
    for (let c = 0; c < calls.length; c++) {
      const { at } = calls[c]!;
      const values = answers[c] as number[];
      for (let j = 0; j < at.length; j++) out[at[j]!] = Number(values[j]);
    }
    return out;
  }

  async health(): Promise<void> {
    if (this.#closed) throw new TotpFleetError('ERR_STORE_UNAVAILABLE', 'the store is closed');
    await this.#run(SCRIPTS.health, [{ keys: [`${this.#prefix}{health}`], args: [], at: [] }]);
  }

  /**
   * The same Redis under a namespace: keys `<prefix><name>:{cred:<account>}`, so a credential
   * there never meets one of this store's, and both stay on the account's Cluster slot.
   */
  namespace(name: string): RedisStore {
    if (typeof name !== 'string' || !NAMESPACE_NAME.test(name)) throw new TypeError('"name" expected a namespace name like \'hotp\'');
    let space = this.#spaces.get(name);
    if (space === undefined) {
      space = new RedisStore({
        client: this.#client, prefix: `${this.#prefix}${name}:`, commandTimeoutMs: this.#timeoutMs, accountsPerCall: this.#perCall,
      });
      this.#spaces.set(name, space);
    }
    return space;
  }

  async forget(account: string): Promise<void> {
    await this.#del(this.keyOf(account));
  }

  /** The key holding an account's backup-code set. */
  backupKeyOf(account: string): string {
    return `${this.keyOf(account)}:backup`;
  }

  async putBackupCodes(account: string, set: BackupCodeSet, keepMs: number): Promise<void> {
    await this.#one(SCRIPTS.backupPut, this.backupKeyOf(account), [String(keepMs), set.salt, String(set.createdAt), ...set.hashes]);
  }

  async backupCodeInfo(account: string): Promise<BackupCodeInfo | undefined> {
    const v = await this.#one(SCRIPTS.backupInfo, this.backupKeyOf(account), []) as [string, string, number] | null;
    return v === null ? undefined : { salt: v[0], createdAt: Number(v[1]), remaining: Number(v[2]) };
  }

  async consumeBackupCode(account: string, hash: string): Promise<number> {
    return Number(await this.#one(SCRIPTS.backupConsume, this.backupKeyOf(account), [hash]));
  }

  async deleteBackupCodes(account: string): Promise<void> {
    await this.#del(this.backupKeyOf(account));
  }

  /** One script call on one key: its answer. */
  async #one(s: Script, key: string, args: string[]): Promise<unknown> {
    const [answer] = await this.#run(s, [{ keys: [key], args, at: [0] }]);
    return answer;
  }

  async #del(key: string): Promise<void> {
    if (this.#closed) throw new TotpFleetError('ERR_STORE_UNAVAILABLE', 'the store is closed');
    await this.#connected();
    try {
      await this.#client.del(key);
    } catch (error) {
      throw unavailable(error);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const space of this.#spaces.values()) await space.close();
    if (this.#owned) {
      try {
        await this.#client.quit();
      } catch {
        this.#client.disconnect();
      }
    }
  }

  /**
   * Splits a batch into script calls of at most `accountsPerCall` credentials; with a Cluster
   * client, each call's credentials share a slot.
   */
  #calls(accounts: readonly string[], head: () => string[], perKey: (i: number) => string[]): Call[] {
    const groups = new Map<number, Call>();
    const calls: Call[] = [];
    const cluster = this.#client.isCluster;
    for (let i = 0; i < accounts.length; i++) {
      const key = this.keyOf(accounts[i]!);
      const slot = cluster ? calculateSlot(key) : 0;
      let call = groups.get(slot);
      if (call === undefined || call.keys.length >= this.#perCall) {
        call = { keys: [], args: head(), at: [] };
        groups.set(slot, call);
        calls.push(call);
      }
      call.keys.push(key);
      call.args.push(...perKey(i));
      call.at.push(i);
    }
    return calls;
  }

  /**
   * Runs the calls in one pipeline (a Cluster client: all at once, each to its slot's node); a
   * call answered NOSCRIPT did not run, and is sent again once, with EVAL.
   */
  async #run(s: Script, calls: Call[]): Promise<unknown[]> {
    if (this.#closed) throw new TotpFleetError('ERR_STORE_UNAVAILABLE', 'the store is closed');
    if (calls.length === 0) return [];
    await this.#connected();
    if (this.#client.isCluster) return Promise.all(calls.map((c) => this.#runOne(s, c)));
    let replies: [Error | null, unknown][] | null;
    try {
      const pipeline = this.#client.pipeline();
      for (const c of calls) pipeline.evalsha(s.sha, c.keys.length, ...c.keys, ...c.args);
      replies = await pipeline.exec();
    } catch (error) {
      throw unavailable(error);
    }
    if (replies === null || replies.length !== calls.length) throw unavailable(new Error('pipeline answered short'));
    const answers: unknown[] = new Array(calls.length);
    const again: number[] = [];
    for (let c = 0; c < calls.length; c++) {
      const [error, value] = replies[c]!;
      if (error === null) answers[c] = value;
      else if (isNoScript(error)) again.push(c);
      else throw unavailable(error);
    }
    if (again.length > 0) {
      try {
        const pipeline = this.#client.pipeline();
        for (const c of again) pipeline.eval(s.source, calls[c]!.keys.length, ...calls[c]!.keys, ...calls[c]!.args);
        const retried = await pipeline.exec();
        if (retried === null || retried.length !== again.length) throw new Error('pipeline answered short');
        again.forEach((c, k) => {
          const [error, value] = retried[k]!;
          if (error !== null) throw error;
          answers[c] = value;
        });
      } catch (error) {
        throw unavailable(error);
      }
    }
    return answers;
  }

  /**
   * While the first connection is being made, waits for it (at most the command timeout);
   * otherwise returns at once: a lost connection fails calls fast (no offline queue) while
   * ioredis reconnects in the background.
   */
  async #connected(): Promise<void> {
    const client = this.#client;
    if (client.status !== 'wait' && client.status !== 'connecting' && client.status !== 'connect') return;
    if (client.status === 'wait') client.connect().catch(() => {});
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        client.off('ready', done);
        client.off('end', done);
        resolve();
      };
      const timer = setTimeout(done, this.#timeoutMs);
      client.on('ready', done);
      client.on('end', done);
    });
  }

  async #runOne(s: Script, c: Call): Promise<unknown> {
    try {
      return await this.#client.evalsha(s.sha, c.keys.length, ...c.keys, ...c.args);
    } catch (error) {
      if (!isNoScript(error)) throw unavailable(error);
    }
    try {
      return await this.#client.eval(s.source, c.keys.length, ...c.keys, ...c.args);
    } catch (error) {
      throw unavailable(error);
    }
  }
}
