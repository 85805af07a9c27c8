// RedisStore: per-credential state in Redis, shared by every verifier process of a fleet.
//
// - Each begin / finish is a Lua script (scripts.ts): check-and-mark and count-and-lock are
//   atomic. A batch is split into calls of at most `accountsPerCall` credentials (so that no
//   script blocks Redis for long), all sent back to back: one round trip per batch.
// - One string per credential, `<prefix>{cred:<account>}`, holding a packed record (scripts.ts):
//   the hash tag keeps a credential on one slot. With an ioredis Cluster client, calls are
//   grouped by slot. (Before this layout a credential was a hash under the same name; a key
//   left from it makes its scripts fail with WRONGTYPE: `error`, fail closed, until it expires.)
// - EVALSHA; a call answered NOSCRIPT (a restarted server, SCRIPT FLUSH) did not run, and is
//   sent again once with EVAL, which loads the script.
// - Fail closed: no offline queue, no resending of commands whose answer was lost, and a
//   command timeout. A failure rejects the call with ERR_STORE_UNAVAILABLE when no script call
//   of the batch succeeded; otherwise the credentials of the failed script calls, and any whose
//   key holds something other than a record, are BEGIN_ERROR / DONE_ERROR and the rest are
//   answered (so that nothing they reserved is left held). The verifier answers `error` for
//   those items. A command that timed out may still run later: a reservation
//   then lapses after `reservationMs`, and a committed mark only makes the code count as used.
// - Every key has a TTL. A failover to a replica can lose a mark Redis had acknowledged
//   (replication is asynchronous): the code could then be accepted once more (README).

import { createHash } from 'node:crypto';
import calculateSlot from 'cluster-key-slot';
import { Redis, type Cluster, type RedisOptions } from 'ioredis';
import { intOption, optionsObject, TotpFleetError } from '../errors.js';
import { BACKUP_CONSUME, BACKUP_INFO, BACKUP_PUT, BEGIN, FINISH, FORGET, HEALTH } from './scripts.js';
import {
  type AttemptLimits, type BackupCodeInfo, type BackupCodeSet, type BeginResult, type FinishOps, type Store, beginResult,
  BEGIN_ERROR, BEGIN_GO, BEGIN_LOCKED, DONE_ERROR, NAMESPACE_NAME,
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

/** A Lua script; `binary`: its answer is packed bytes (a Buffer), not text. */
type Script = { source: string; sha: string; binary: boolean };

function script(source: string, binary = false): Script {
  return { source, sha: createHash('sha1').update(source).digest('hex'), binary };
}

const SCRIPTS = {
  begin: script(BEGIN, true), finish: script(FINISH, true), forget: script(FORGET), health: script(HEALTH),
  backupPut: script(BACKUP_PUT), backupInfo: script(BACKUP_INFO), backupConsume: script(BACKUP_CONSUME),
};

function unavailable(cause: unknown): TotpFleetError {
  // The cause is Redis's own error (connection refused, timeout, READONLY, a script error), by
  // its name and message only: ioredis puts the failed command's arguments on its errors
  // (`command.args`), and those are account names and, for putBackupCodes, the set's salt and
  // every code's hash (enough to search a code's 50 bits offline if the error is logged).
  const safe = cause instanceof Error ? Object.assign(new Error(cause.message), { name: cause.name }) : undefined;
  return new TotpFleetError('ERR_STORE_UNAVAILABLE', 'the Redis store did not answer', { cause: safe });
}

/** A script's packed answer, checked for its length; undefined for anything else (that call is `error`). */
function replyOrUndefined(value: unknown, bytes: number): Buffer | undefined {
  return Buffer.isBuffer(value) && value.length === bytes ? value : undefined;
}

/**
 * Per client this module connected itself: Redis's answer to the SELECT of the URL's database
 * while it refuses it (a database past the server's `databases`, or any but 0 on a Cluster node).
 * ioredis reports that refusal only as an 'error' event and then serves every command from
 * database 0: a store there would keep its state where nobody configured it. Cleared when the
 * connection is made again (the SELECT is sent again then).
 */
const refusedDatabase = new WeakMap<Redis | Cluster, string>();
const SELECT_REFUSED = /^ERR (DB index is out of range|invalid DB index|SELECT is not allowed in cluster mode)/;

function isNoScript(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('NOSCRIPT');
}

/** A script call: its keys and arguments. */
interface Call {
  keys: string[];
  args: (string | Buffer)[];
  /** Where its answers go among the batch's accounts. */
  at: number[];
}

/** Per-credential arguments of a call, packed into one binary ARGV string. */
interface Packed {
  /** Bytes per credential. */
  readonly bytes: number;
  /** Writes account `i`'s arguments at `offset`. */
  write(buffer: Buffer, offset: number, i: number): void;
}

/** Bytes per credential of begin's answer and of finish's arguments: struct '<Bdd'. */
const BDD = 17;

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
  /** The wait for the first connection, while it is being made (#connected). */
  #connecting: Promise<void> | undefined;

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
    // ioredis would print each reconnection failure. A refused SELECT is remembered: every call
    // fails closed until a new connection's SELECT succeeds.
    const client = this.#client;
    client.on('error', (error: Error) => {
      if (SELECT_REFUSED.test(error.message)) refusedDatabase.set(client, error.message.split('\n')[0]!);
    });
    client.on('connect', () => refusedDatabase.delete(client));
  }

  /** Throws ERR_STORE_UNAVAILABLE while Redis refuses the URL's database (see refusedDatabase). */
  #assertDatabase(): void {
    const refused = refusedDatabase.get(this.#client);
    if (refused !== undefined) throw unavailable(new Error(`Redis refused the database of the URL: ${refused}`));
  }

  /** The key holding a credential's state. */
  keyOf(account: string): string {
    return `${this.#prefix}{cred:${account}}`;
  }

  async begin(accounts: readonly string[], limits: AttemptLimits): Promise<BeginResult> {
    const out = beginResult(accounts.length);
    const calls = this.#calls(accounts, [limits.maxFailures, limits.reservationMs, limits.lockoutMs, limits.replayMs].map(String));
    const answers = await this.#runEach(SCRIPTS.begin, calls);
    for (let c = 0; c < calls.length; c++) {
      const { at } = calls[c]!;
      const answer = answers[c] === undefined ? undefined : replyOrUndefined(answers[c], BDD * at.length);
      if (answer === undefined) {
        // This call failed (the others did not): its credentials alone are `error`.
        for (let j = 0; j < at.length; j++) out.state[at[j]!] = BEGIN_ERROR;
        continue;
      }
      for (let j = 0; j < at.length; j++) {
        const i = at[j]!;
        const state = answer[BDD * j]!;
        out.state[i] = state;
        if (state === BEGIN_LOCKED) out.retryAfterMs[i] = answer.readDoubleLE(BDD * j + 1);
        else if (state === BEGIN_GO) {
          out.lastStep[i] = answer.readDoubleLE(BDD * j + 1);
          out.drift[i] = answer.readDoubleLE(BDD * j + 9);
        } else out.state[i] = BEGIN_ERROR;
      }
    }
    return out;
  }

  async finish(accounts: readonly string[], ops: FinishOps, limits: AttemptLimits): Promise<Uint8Array> {
    const out = new Uint8Array(accounts.length);
    const head = [limits.maxFailures, limits.lockoutMs, limits.failureMemoryMs, limits.replayMs, limits.driftMemoryMs]
      .map(String);
    const calls = this.#calls(accounts, head, {
      bytes: BDD,
      write: (buffer, offset, i) => {
        buffer[offset] = ops.op[i]!;
        buffer.writeDoubleLE(ops.step[i]!, offset + 1);
        buffer.writeDoubleLE(ops.drift[i]!, offset + 9); // NaN keeps the stored drift
      },
    });
    const answers = await this.#runEach(SCRIPTS.finish, calls);
    for (let c = 0; c < calls.length; c++) {
      const { at } = calls[c]!;
      const answer = answers[c] === undefined ? undefined : replyOrUndefined(answers[c], at.length);
      for (let j = 0; j < at.length; j++) out[at[j]!] = answer === undefined ? DONE_ERROR : answer[j]!;
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

  /**
   * Deletes the credential; with attempts in flight, leaves it VOID until they end (scripts.ts
   * FORGET): their finishes write nothing and answer DONE_ERROR, and none may begin meanwhile.
   */
  async forget(account: string): Promise<void> {
    await this.#one(SCRIPTS.forget, this.keyOf(account), []);
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
    this.#assertDatabase();
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
   * Splits a batch into script calls of at most `accountsPerCall` credentials (with a Cluster
   * client, each call's credentials share a slot), each with `head` and, with `packed`, one
   * more argument: every credential's arguments, packed.
   */
  #calls(accounts: readonly string[], head: string[], packed?: Packed): Call[] {
    const groups = new Map<number, Call>();
    const calls: Call[] = [];
    const cluster = this.#client.isCluster;
    for (let i = 0; i < accounts.length; i++) {
      const key = this.keyOf(accounts[i]!);
      const slot = cluster ? calculateSlot(key) : 0;
      let call = groups.get(slot);
      if (call === undefined || call.keys.length >= this.#perCall) {
        call = { keys: [], args: head.slice(), at: [] };
        groups.set(slot, call);
        calls.push(call);
      }
      call.keys.push(key);
      call.at.push(i);
    }
    if (packed !== undefined) {
      for (const call of calls) {
        const buffer = Buffer.allocUnsafe(packed.bytes * call.at.length);
        for (let j = 0; j < call.at.length; j++) packed.write(buffer, packed.bytes * j, call.at[j]!);
        call.args.push(buffer);
      }
    }
    return calls;
  }

  /**
   * Sends every call at once, each as soon as it is encoded (Redis runs the first while the
   * next is written: one round trip per batch, and Redis and this process work at the same
   * time); on a Cluster client each goes to its slot's node. A call answered NOSCRIPT did not
   * run, and is sent again once, with EVAL. Answers of binary scripts are Buffers.
   */
  async #run(s: Script, calls: Call[]): Promise<unknown[]> {
    if (this.#closed) throw new TotpFleetError('ERR_STORE_UNAVAILABLE', 'the store is closed');
    if (calls.length === 0) return [];
    await this.#connected();
    this.#assertDatabase();
    const answers = await Promise.all(calls.map((c) => this.#runOne(s, c)));
    // (Answers read from another database than the URL's are not answers: the refusal of the
    // SELECT comes back before any of them.)
    this.#assertDatabase();
    return answers;
  }

  /**
   * #run, each call on its own: the answers of the calls that succeeded, undefined for those
   * that failed; rejects (ERR_STORE_UNAVAILABLE) only when every call failed.
   */
  async #runEach(s: Script, calls: Call[]): Promise<unknown[]> {
    if (this.#closed) throw new TotpFleetError('ERR_STORE_UNAVAILABLE', 'the store is closed');
    if (calls.length === 0) return [];
    await this.#connected();
    this.#assertDatabase();
    const settled = await Promise.allSettled(calls.map((c) => this.#runOne(s, c)));
    this.#assertDatabase();
    if (settled.every((r) => r.status === 'rejected')) throw (settled[0] as PromiseRejectedResult).reason;
    return settled.map((r) => (r.status === 'fulfilled' ? r.value : undefined));
  }

  /**
   * While the first connection is being made, waits for it (at most the command timeout);
   * otherwise returns at once: a lost connection fails calls fast (no offline queue) while
   * ioredis reconnects in the background.
   */
  #connected(): Promise<void> | undefined {
    const client = this.#client;
    if (client.status !== 'wait' && client.status !== 'connecting' && client.status !== 'connect') return undefined;
    // One wait (two listeners) shared by every call made meanwhile, however many there are.
    return (this.#connecting ??= new Promise<void>((resolve) => {
      if (client.status === 'wait') client.connect().catch(() => {});
      const done = (): void => {
        clearTimeout(timer);
        client.off('ready', done);
        client.off('end', done);
        this.#connecting = undefined;
        resolve();
      };
      const timer = setTimeout(done, this.#timeoutMs);
      client.on('ready', done);
      client.on('end', done);
    }));
  }

  #call(binary: boolean, command: string, args: (string | number | Buffer)[]): Promise<unknown> {
    return binary ? this.#client.callBuffer(command, args) : this.#client.call(command, args);
  }

  async #runOne(s: Script, c: Call): Promise<unknown> {
    try {
      return await this.#call(s.binary, 'evalsha', [s.sha, c.keys.length, ...c.keys, ...c.args]);
    } catch (error) {
      if (!isNoScript(error)) throw unavailable(error);
    }
    try {
      return await this.#call(s.binary, 'eval', [s.source, c.keys.length, ...c.keys, ...c.args]);
    } catch (error) {
      throw unavailable(error);
    }
  }
}
