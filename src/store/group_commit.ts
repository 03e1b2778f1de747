/**
 * Group commit, for stores that write to a database: every change that any
 * run asks to make durable within one turn of the event loop, or while a
 * commit is in flight, goes into one transaction, and each waiter resumes
 * when the commit that holds its changes is durable.
 *
 * A store keeps one {@linkcode GroupCommit} and gives it a
 * {@linkcode CommitWriter}: how to start an empty batch and how to write a
 * batch in one transaction. Whatever has changes to write — a run's session,
 * a run start, a run end — is a {@linkcode CommitMember}: it asks to be in
 * the next commit ({@linkcode GroupCommit.request}, or
 * {@linkcode GroupCommit.note} when nobody waits), and when that commit is
 * built, moves what it has queued into the batch (`collect`). The commit
 * starts at the end of the turn in which the first member asked (so that
 * every run that became ready in that turn joins it), or, when a commit is
 * in flight (an asynchronous writer such as PostgreSQL), at the end of the
 * turn in which that one finished. At most one commit is in flight.
 *
 * The batch is the store's own type: the SQLite store collects statements to
 * run between `BEGIN` and `COMMIT` (or alone, when there is only one); a
 * PostgreSQL store would collect rows per table and write each table with one
 * multi-row statement.
 *
 * @module
 */

import { setImmediate } from "node:timers";

/** Something with changes to write: a run's session, a run start, a run end. */
export interface CommitMember<B> {
  /**
   * Moves what the member has queued into the batch. Called once per commit
   * the member is in, when the batch is built. If it throws, the member is
   * left out of this commit, its waiters get the error, and `failed` is
   * called; it must then have added nothing to the batch (build first, then
   * add).
   *
   * @param batch The batch being built.
   */
  collect(batch: B): void;
  /** The commit that holds what `collect` moved is durable. */
  committed?(): void;
  /**
   * The commit that holds what `collect` moved failed (or `collect` threw):
   * take the changes back, so that a later commit writes them.
   *
   * @param error Why.
   */
  failed?(error: unknown): void;
}

/** How a store writes: an empty batch, and a batch in one transaction. */
export interface CommitWriter<B> {
  /** A new, empty batch. */
  open(): B;
  /**
   * Writes a batch in one transaction.
   *
   * @param batch What the members collected.
   * @returns Once the batch is durable (a promise for an asynchronous writer).
   * @throws When nothing of the batch was committed.
   */
  write(batch: B): void | Promise<void>;
}

/** Options of a {@linkcode GroupCommit}. */
export interface GroupCommitOptions {
  /**
   * What to do with the error of a commit that nobody waited for (members
   * that joined with `note`).
   * @default console.error
   */
  onError?: (error: unknown) => void;
}

/** A waiter on a commit: resolved or rejected when it ends. */
interface Waiter {
  promise: Promise<void>;
  resolve(): void;
  reject(error: unknown): void;
}

function waiter(): Waiter {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** The members of one commit, and their waiters (`null`: nobody waits). */
type Members<B> = Map<CommitMember<B>, Waiter | null>;

/**
 * Commits whatever members ask for, many at a time.
 *
 * @example Two runs' changes in one commit
 * ```ts
 * import { type CommitMember, GroupCommit } from "@weft/weft/store";
 * import assert from "node:assert/strict";
 *
 * const written: string[][] = [];
 * const group = new GroupCommit<string[]>({
 *   open: () => [],
 *   write: (rows) => void written.push(rows), // one transaction
 * });
 * const session = (row: string): CommitMember<string[]> => ({ collect: (rows) => void rows.push(row) });
 * const a = session("a"), b = session("b");
 * group.opened(a);
 * group.opened(b);
 * await Promise.all([group.request(a), group.request(b)]);
 * assert.deepEqual(written, [["a", "b"]]);
 * ```
 */
export class GroupCommit<B> {
  readonly #writer: CommitWriter<B>;
  readonly #onError: (error: unknown) => void;
  /** Members of the next commit. */
  #next: Members<B> = new Map();
  /** An emptied map of members, to take the next one's place when it is committed. */
  #spare: Members<B> | undefined = new Map();
  /** Members that may ask again later (runs' sessions): while another is open, a request waits for company. */
  readonly #open = new Set<CommitMember<B>>();
  #scheduled = false;
  /** The commit in flight, for an asynchronous writer (it never rejects). */
  #inFlight: Promise<void> | undefined = undefined;
  #commits = 0;

  /**
   * Makes the group commit of a store.
   *
   * @param writer How the store writes a batch.
   * @param options What to do with errors nobody waits for.
   */
  constructor(writer: CommitWriter<B>, options: GroupCommitOptions = {}) {
    this.#writer = writer;
    this.#onError = options.onError ?? ((e) => {
      console.error(`weft: a commit failed: ${(e as Error)?.message ?? e}`);
    });
  }

  /** How many commits were made (for tests and benchmarks). */
  get commits(): number {
    return this.#commits;
  }

  /** Whether nothing waits for a commit and none is in flight. */
  get idle(): boolean {
    return this.#next.size === 0 && this.#inFlight === undefined;
  }

  /**
   * A member that will ask for commits from time to time (a run's session)
   * is open, until {@linkcode GroupCommit.closed}. While it is the only one,
   * its requests are committed at once: nobody could share them.
   *
   * @param member The member.
   */
  opened(member: CommitMember<B>): void {
    this.#open.add(member);
  }

  /**
   * A member opened with {@linkcode GroupCommit.opened} will ask no more.
   *
   * @param member The member.
   */
  closed(member: CommitMember<B>): void {
    this.#open.delete(member);
  }

  /**
   * Puts a member in the next commit and waits for it. The commit starts at
   * the end of the turn, so that every member that asks in this turn (or
   * while a commit is in flight) shares it — unless the member is alone: no
   * other open member, nothing else waiting and no commit in flight. Then it
   * is committed at once (as PostgreSQL's `commit_siblings` skips its delay
   * when no other transaction is open).
   *
   * @param member What has changes to write.
   * @param on The open member it asks for, when that is not `member` itself
   * (a writer whose one queue holds every open member's changes): alone too
   * when that is the only open member.
   * @returns undefined when it was committed before returning (alone, with a
   * synchronous writer); else a promise that resolves when the commit holding
   * the member's changes is durable, and rejects with its error.
   * @throws The commit's error, when it was committed at once and failed.
   */
  request(member: CommitMember<B>, on: CommitMember<B> = member): Promise<void> | undefined {
    if (
      this.#next.size === 0 && !this.#scheduled && this.#inFlight === undefined &&
      (this.#open.size === 0 || (this.#open.size === 1 && this.#open.has(on)))
    ) return this.#alone(member);
    let w = this.#next.get(member);
    if (w === undefined || w === null) {
      w = waiter();
      this.#next.set(member, w);
    }
    this.#schedule();
    return w.promise;
  }

  /**
   * Puts a member in the next commit without waiting (a periodic flush);
   * an error goes to `onError`.
   *
   * @param member What has changes to write.
   */
  note(member: CommitMember<B>): void {
    if (!this.#next.has(member)) this.#next.set(member, null);
    this.#schedule();
  }

  /**
   * Starts the next commit now rather than at the end of the turn (a queue
   * grew large, the store closes). With a synchronous writer it is durable
   * when this returns, unless a commit is in flight.
   *
   * @returns The commit in flight, when the writer is asynchronous or one was already in flight.
   */
  commitNow(): Promise<void> | undefined {
    if (this.#inFlight !== undefined) return this.#inFlight;
    return this.#commit();
  }

  /**
   * Commits everything asked for so far, and waits for it.
   *
   * @returns Once nothing waits and nothing is in flight.
   */
  async settle(): Promise<void> {
    while (!this.idle) await (this.#inFlight ?? this.#commit());
  }

  #schedule(): void {
    if (this.#scheduled || this.#inFlight !== undefined) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      if (this.#inFlight === undefined) this.#commit();
    });
  }

  /** Commits one member at once; throws (or rejects) with its error. */
  #alone(member: CommitMember<B>): Promise<void> | undefined {
    const batch = this.#writer.open();
    let written: void | Promise<void>;
    try {
      member.collect(batch);
      written = this.#writer.write(batch);
    } catch (e) {
      member.failed?.(e);
      throw e;
    }
    if (!(written instanceof Promise)) {
      this.#commits++;
      member.committed?.();
      return undefined;
    }
    const done = written.then(() => {
      this.#commits++;
      member.committed?.();
    }, (e) => {
      member.failed?.(e);
      throw e;
    });
    this.#fly(done);
    return done;
  }

  /** Marks a commit in flight until it ends; then the members that asked meanwhile get theirs. */
  #fly(commit: Promise<void>): void {
    const flight: Promise<void> = commit.then(() => {}, () => {}).then(() => {
      if (this.#inFlight === flight) this.#inFlight = undefined;
      if (this.#next.size > 0) this.#schedule();
    });
    this.#inFlight = flight;
  }

  /** Builds and writes one commit of the members that asked; a promise only for an asynchronous writer. */
  #commit(): Promise<void> | undefined {
    if (this.#next.size === 0) return undefined;
    const members = this.#next;
    this.#next = this.#spare ?? new Map();
    this.#spare = undefined;
    const batch = this.#writer.open();
    for (const [member, w] of members) {
      try {
        member.collect(batch);
      } catch (e) {
        members.delete(member);
        this.#fail(member, w, e);
      }
    }
    if (members.size === 0) return this.#recycle(members);
    let written: void | Promise<void>;
    try {
      written = this.#writer.write(batch);
    } catch (e) {
      this.#done(members, e);
      return undefined;
    }
    if (!(written instanceof Promise)) {
      this.#done(members, undefined);
      return undefined;
    }
    const done = written.then(() => this.#done(members, undefined), (e) => this.#done(members, e));
    this.#fly(done);
    return this.#inFlight;
  }

  /** Keeps an emptied map of members for the commit after next. */
  #recycle(members: Members<B>): undefined {
    members.clear();
    this.#spare = members;
    return undefined;
  }

  #done(members: Members<B>, error: unknown): void {
    if (error === undefined) {
      this.#commits++;
      for (const [member, w] of members) {
        try {
          member.committed?.();
        } catch {
          // (its changes are durable whatever it does with the news)
        }
        w?.resolve();
      }
      this.#recycle(members);
      return;
    }
    let unheard = false;
    for (const [member, w] of members) unheard = this.#fail(member, w, error, false) || unheard;
    this.#recycle(members);
    // Reported once however many members nobody waited for.
    if (unheard) this.#onError(error);
  }

  /** A member's changes were not committed; returns whether nobody heard of it (with `report` off). */
  #fail(member: CommitMember<B>, w: Waiter | null, error: unknown, report = true): boolean {
    try {
      member.failed?.(error);
    } catch {
      // a member that cannot take its changes back still hears of the error
    }
    if (w !== null) {
      w.reject(error);
      return false;
    }
    if (report) this.#onError(error);
    return true;
  }
}
