/**
 * The task context: what a running task receives after its inputs — its
 * signal (aborted on timeout or cancellation), attempt, run and node ids, and
 * `log`.
 *
 * @module
 */

import type { TaskContext } from "../define/task.ts";
import { cancelledError } from "./failures.ts";
import type { Node } from "./node.ts";

/** What a task context needs of its run. */
export interface ContextRun {
  /** The run id. */
  readonly id: string;
  /** Whether the run is cancelled. */
  readonly cancelled: boolean;
  /** Logs a line for a node. */
  log(node: Node, message: string): void;
}

/** The context of one attempt of a task. */
export class Context implements TaskContext {
  readonly #node: Node;
  readonly #run: ContextRun;
  readonly attempt: number;

  /**
   * @param node The task's node.
   * @param run Its run.
   */
  constructor(node: Node, run: ContextRun) {
    this.#node = node;
    this.#run = run;
    this.attempt = node.attempt;
  }

  get signal(): AbortSignal {
    const node = this.#node;
    if (node.controller === undefined) {
      node.controller = new AbortController();
      if (node.stopped) {
        node.controller.abort(node.stopReason ?? cancelledError(this.#run.id));
      }
    }
    return node.controller.signal;
  }

  get runId(): string {
    return this.#run.id;
  }

  get nodeId(): string {
    return this.#node.id;
  }

  log(...args: unknown[]): void {
    const message = args.map((a) => typeof a === "string" ? a : Deno.inspect(a)).join(" ");
    this.#run.log(this.#node, message);
  }
}
