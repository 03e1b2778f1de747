/**
 * The store side of a run driven away from its store: `RemoteStore`'s
 * requests over a message channel, numbered and answered by `reply`. `weft
 * run`'s child speaks it with its parent (`run_drive.ts`), `weft worker`'s
 * driver Worker with the worker's main thread (`worker_driver.ts`).
 *
 * @module
 */

import type { StoreReply, StoreRequest, StoreTransport } from "../store/remote.ts";

/** Store requests over a channel: numbered, answered in `reply`. */
export class ChannelTransport implements StoreTransport {
  readonly #post: (message: StoreRequest, id?: number) => void;
  readonly #waiting = new Map<number, { resolve(r: StoreReply): void; reject(e: Error): void }>();
  readonly #wakers = new Set<() => void>();
  #next = 1;
  #lost: Error | undefined;

  /**
   * @param post Sends a message: with its number, a request that waits for its answer.
   */
  constructor(post: (message: StoreRequest, id?: number) => void) {
    this.#post = post;
  }

  /** Why nothing more is recorded (see `lose`); undefined while things are. */
  get lost(): Error | undefined {
    return this.#lost;
  }

  /** Sends a request and waits for its answer. */
  request(message: StoreRequest): Promise<StoreReply> {
    if (this.#lost !== undefined) return Promise.reject(this.#lost);
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      this.#waiting.set(id, { resolve, reject });
      this.#post(message, id);
    });
  }

  /** Sends a message that needs no answer. */
  send(message: StoreRequest): void {
    if (this.#lost === undefined) this.#post(message);
  }

  /** Calls `wake` whenever the other side says a signal may have arrived. */
  onWake(wake: () => void): () => void {
    const own = () => wake();
    this.#wakers.add(own);
    return () => this.#wakers.delete(own);
  }

  /** The other side says a signal may have arrived for the run. */
  wake(): void {
    for (const wake of [...this.#wakers]) wake();
  }

  /**
   * An answer.
   *
   * @param id The request's number.
   * @param reply The answer.
   */
  reply(id: number, reply: StoreReply): void {
    const waiting = this.#waiting.get(id);
    this.#waiting.delete(id);
    waiting?.resolve(reply);
  }

  /**
   * Nothing more is recorded (the claim on the run was lost): the requests
   * waiting fail with `error`, later ones at once, and nothing more is sent.
   *
   * @param error Why.
   */
  lose(error: Error): void {
    this.#lost = error;
    for (const waiting of this.#waiting.values()) waiting.reject(error);
    this.#waiting.clear();
  }
}
