/**
 * The ready queue: task nodes whose inputs are ready wait here, in order,
 * and start while the run's concurrency limit (and each task's own) leaves a
 * slot free.
 *
 * @module
 */

import type { TaskDef } from "../define/defs.ts";
import { baseOf } from "../define/overrides.ts";
import type { TaskNode } from "./node.ts";

/** Starts ready task nodes under the run's limit and each task's own. */
export class Scheduler {
  readonly #limit: number;
  readonly #start: (node: TaskNode) => void;
  /** Tasks ready to run, in order; started ones are cleared from the head. */
  #queue: TaskNode[] = [];
  #head = 0;
  #active = 0;
  #perTask = new Map<TaskDef, number>();
  #parked = new Map<TaskDef, TaskNode[]>();
  /** Tasks that go before the queue: parked calls freed by their task's limit. */
  #front: TaskNode[] = [];
  #pumping = false;
  #pumpAgain = false;
  /** While positive, ready tasks queue up but do not start (a static frame adds all its nodes first). */
  held = 0;

  /**
   * @param limit How many tasks may run at once.
   * @param start Starts a task node (it holds a slot until {@linkcode release}).
   */
  constructor(limit: number, start: (node: TaskNode) => void) {
    this.#limit = limit;
    this.#start = start;
  }

  /** Whether a task runs or waits for a slot. */
  get busy(): boolean {
    return this.#active > 0 || this.#head < this.#queue.length || this.#front.length > 0;
  }

  /**
   * Queues a ready task node and starts what fits.
   *
   * @param node The node, with status `ready`.
   */
  push(node: TaskNode): void {
    this.#queue.push(node);
    this.pump();
  }

  /** Starts ready tasks while slots are free. */
  pump(): void {
    if (this.#pumping || this.held > 0) {
      this.#pumpAgain = true;
      return;
    }
    this.#pumping = true;
    try {
      do {
        this.#pumpAgain = false;
        const queue = this.#queue;
        while (
          this.#active < this.#limit && (this.#head < queue.length || this.#front.length > 0)
        ) {
          let node: TaskNode;
          if (this.#front.length > 0) node = this.#front.shift()!;
          else {
            node = queue[this.#head]!;
            queue[this.#head++] = undefined as unknown as TaskNode;
          }
          if (node.status !== "ready") continue;
          if (node.def.concurrency !== undefined) {
            // (A task's limit holds across its calls overridden with .with().)
            const def = baseOf(node.def);
            const n = this.#perTask.get(def) ?? 0;
            if (n >= def.concurrency!) {
              let parked = this.#parked.get(def);
              if (parked === undefined) this.#parked.set(def, parked = []);
              parked.push(node);
              continue;
            }
            this.#perTask.set(def, n + 1);
          }
          this.#active++;
          this.#start(node);
        }
        if (this.#head > 1024 && this.#head * 2 > queue.length) {
          this.#queue = queue.slice(this.#head);
          this.#head = 0;
        }
      } while (this.#pumpAgain);
    } finally {
      this.#pumping = false;
    }
  }

  /**
   * Frees the slot a started node held, and starts what now fits.
   *
   * @param node The node.
   */
  release(node: TaskNode): void {
    this.#active--;
    if (node.def.concurrency !== undefined) {
      const def = baseOf(node.def);
      this.#perTask.set(def, this.#perTask.get(def)! - 1);
      const parked = this.#parked.get(def);
      if (parked !== undefined && parked.length > 0) {
        // The next parked call of this task goes first.
        this.#front.push(parked.shift()!);
      }
    }
    this.pump();
  }
}
