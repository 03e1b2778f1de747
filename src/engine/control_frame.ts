/**
 * What a workflow's or flow's frame does about failures and time: its
 * whole timeout (then it fails with `TimeoutError` and cancels what still
 * runs), and its `onFailure` handler, run as one more child of the frame
 * with `{ error, inputs }` before the frame reports its failure.
 *
 * @module
 */

import { CancelledError, TaskFailedError, TimeoutError, type WeftError } from "../core/errors.ts";
import type { CallOverride, RunControl } from "../define/defs.ts";
import { describeEntity } from "../define/entity.ts";
import { asWeftError } from "./failures.ts";
import { Frame } from "./frames.ts";
import type { Node } from "./node.ts";

/** What a controlled frame reads of its workflow or flow. */
interface ControlledDef {
  readonly name: string;
  readonly control: RunControl;
  readonly call?: CallOverride;
}

/** A frame that runs a workflow or a flow: it has a timeout and an onFailure handler. */
export abstract class ControlledFrame extends Frame {
  /** The workflow's or flow's control, once it started. */
  protected control: RunControl | undefined = undefined;
  /** Its inputs, for the handler. */
  protected frameInputs: Record<string, unknown> = {};
  /** Why it timed out, when it did. */
  timedOut: TimeoutError | undefined = undefined;
  #timer: ReturnType<typeof setTimeout> | undefined = undefined;
  #handling = false;

  /**
   * Starts the frame's timeout (a call's `.with({ timeout })`, else the
   * entity's), and keeps what the handler needs.
   *
   * @param def The workflow or flow.
   * @param inputs The frame's inputs.
   * @param kind What it is, in messages.
   */
  protected startControl(
    def: ControlledDef,
    inputs: Record<string, unknown>,
    kind: "Workflow" | "Flow",
  ): void {
    const control = def.control;
    this.control = control;
    this.frameInputs = inputs;
    const timeoutMs = def.call?.overrides.timeoutMs ?? control.timeoutMs;
    if (timeoutMs === undefined) return;
    const what = `${kind} '${def.name}'`;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.finished || this.cancelled) return;
      const at = this.node === undefined ? "" : ` (node '${this.node.id}')`;
      const error = this.timedOut = new TimeoutError(
        `${what}${at} timed out after ${timeoutMs} ms; raise its 'timeout', or make it faster`,
        { nodeId: this.node?.id ?? what, task: what },
      );
      // What still runs is cancelled (a flow sees CancelledError at its await point).
      this.cancel(new CancelledError(`Cancelled: ${error.message}`, { cause: error }));
    }, timeoutMs);
  }

  /**
   * Ends the frame: a failure first runs the onFailure handler, if there is
   * one (not for a cancellation of the run), then is reported with the
   * handler's own failure, if it failed.
   *
   * @param value The frame's value.
   * @param error Its failure.
   * @param causes The failure's root causes.
   */
  protected conclude(value: unknown, error: WeftError | undefined, causes?: WeftError[]): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    const handler = this.control?.onFailure;
    if (
      error === undefined || handler === undefined || this.#handling ||
      this.run.fatal !== undefined ||
      (error instanceof CancelledError && this.timedOut === undefined)
    ) {
      return this.done(value, error, causes);
    }
    this.#handling = true;
    const all = causes ?? [error];
    const record = error.toJSON();
    const args: Record<string, unknown> = {};
    for (const p of handler.params) {
      if (p.name === "error") {
        // (No stack: a replay must call the handler with the same arguments.)
        const e: Record<string, unknown> = { name: record.name, message: record.message };
        if (record.nodeId !== undefined) e.nodeId = record.nodeId;
        if (record.task !== undefined) e.task = record.task;
        if (record.attempt !== undefined) e.attempt = record.attempt;
        args.error = e;
      } else if (p.name === "inputs") args.inputs = this.frameInputs;
    }
    let node: Node;
    this.admitsLate = true;
    try {
      node = this.add(handler, args, "onFailure");
    } catch (e) {
      return this.done(undefined, error, [...all, asWeftError(e, this.node, this.run.rootName)]);
    } finally {
      this.admitsLate = false;
    }
    node.onSettled(() => {
      if (node.status !== "failed") return this.done(undefined, error, all);
      const failed = node.error!;
      const described = new TaskFailedError(
        `The onFailure handler (${
          describeEntity(handler)
        }, node '${node.id}') failed too: ${failed.message}`,
        { nodeId: node.id, task: handler.name, cause: failed },
      );
      this.done(undefined, error, [...all, described]);
    });
  }
}
