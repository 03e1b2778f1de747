/**
 * The flow frame: drives a flow's async generator. Each call in the body
 * adds a node; each `yield` parks the generator until what it waits for has
 * settled (and is durable); an uncaught error fails the flow and cancels
 * what it still runs.
 *
 * Cancellation reaches the body as `CancelledError`, thrown at the await
 * point where it waits (or the next one it reaches), whether it waits with
 * `yield* wait(h)` or `yield h`. The body may catch it and clean up inside
 * `yield* nonCancellable(…)`, whose calls and waits cancellation does not
 * stop; a cancelled body that waits again outside such a scope is stopped
 * with `return()`, so that only its `finally` blocks run.
 *
 * @module
 */

import { frames } from "../core/call_site.ts";
import {
  CancelledError,
  TaskFailedError,
  ValidationError,
  type WeftError,
} from "../core/errors.ts";
import { checkValue, isPlainObject } from "../core/values.ts";
import type { EntityDef, FlowDef } from "../define/defs.ts";
import { describeEntity, entityOf, selectOutput } from "../define/entity.ts";
import { AWAIT, type AwaitRequest } from "../define/yields.ts";
import { asWeftError, cancelledError, frameError, isFlowFailure, rootCauses } from "./failures.ts";
import type { Handle } from "../define/handle.ts";
import { ControlledFrame } from "./control_frame.ts";
import type { FrameRun } from "./frames.ts";
import { slotOf } from "./handles.ts";
import { failedSource, isFinal, Node } from "./node.ts";
import { beaten, keepWinner, nodeOf, raceOrder } from "./race_order.ts";
import { waitAll, type WaitRun } from "./waiting.ts";
import { isWaitNode } from "./waits.ts";

/** What a flow frame needs of its run. */
export interface FlowRun extends FrameRun, WaitRun {
  /** Flow bodies running a step (between a resume and their next yield). */
  stepping: number;
  /** How many sleeps and signal waits are pending. */
  readonly waiting: number;
  /** Something changed that may leave the run idle. */
  changed(): void;
  /** Whether the body may act on a node's result now (durable, or not needed to be: see `Run.settled`). */
  settled(node: Node): boolean;
  /** A node's failure is sent into a flow body: marks it caught; false when it was already. */
  caught(node: Node): boolean;
  /** The body let the failure escape: the mark is taken back. */
  uncaught(node: Node): void;
}

/** The frame of a flow: drives its generator. */
export class FlowFrame extends ControlledFrame {
  declare readonly run: FlowRun;
  #gen:
    | AsyncGenerator<unknown, unknown, unknown>
    | Generator<unknown, unknown, unknown>
    | undefined;
  #returned: unknown = undefined;
  #thrown: WeftError | undefined = undefined;
  /** Whether the generator is suspended at a yield the engine resolves. */
  #parked = false;
  /** How many `nonCancellable` scopes the body is in. */
  #shield = 0;
  /** Whether the body has been told of its cancellation. */
  #cancelDelivered = false;
  /** Whether the engine stopped the body with `return()` after its cancellation. */
  #stopped = false;
  /** Whether a step of the body is under way (counted in `run.stepping`). */
  #inStep = false;
  /**
   * The nodes whose failures the step under way was sent (thrown at the
   * body's yield, or at its `await h`), marked caught, each with how many
   * calls the body had made then: if the body lets one escape before it
   * calls anything more, its mark is taken back (see `#bodyThrew`).
   */
  #marked: { node: Node; calls: number }[] | undefined = undefined;
  #def!: FlowDef;

  start(def: FlowDef, inputs: Record<string, unknown>): void {
    this.#def = def;
    this.startControl(def, inputs, "Flow");
    const fn = def.fn as (...args: unknown[]) => unknown;
    let gen: unknown;
    try {
      gen = frames.run(
        this,
        () => def.style === "object" ? fn(inputs) : fn(...def.params.map((p) => inputs[p.name])),
      );
    } catch (e) {
      return this.#bodyThrew(e);
    }
    if (typeof (gen as Generator)?.next !== "function") {
      return this.#bodyThrew(
        new ValidationError(
          `Flow '${def.name}' did not return a generator; write it as async function* ${def.name}(…) { … }`,
        ),
      );
    }
    this.#gen = gen as AsyncGenerator<unknown, unknown, unknown>;
    this.#resume(0, undefined);
  }

  /** Resumes the generator: 0 next, 1 throw, 2 return. */
  #resume(mode: 0 | 1 | 2, arg: unknown): void {
    this.#parked = false;
    const run = this.run;
    if (!this.#inStep) {
      this.#inStep = true;
      run.stepping++;
    }
    if (run.fatal !== undefined && mode !== 2) {
      // (A failure about to be sent is not: the body is stopped.)
      if (mode === 1) this.#takeBack(arg, true);
      mode = 2;
      arg = undefined;
    }
    let r: unknown;
    try {
      // The body must find this frame. When the caller's async context holds it
      // already (a flow resumed from its own step), entering it again would
      // cost a context switch for the same context.
      r = frames.getStore() === this
        ? this.#step(mode, arg)
        : frames.run(this, this.#stepFn, mode, arg);
    } catch (e) {
      return this.#bodyThrew(e);
    }
    if (r !== undefined) this.#onStep(r as IteratorResult<unknown>);
  }

  /** Steps the generator; a promised step is followed up here, an immediate one is returned. */
  #step(mode: 0 | 1 | 2, arg: unknown): unknown {
    const gen = this.#gen!;
    const r = mode === 0 ? gen.next(arg) : mode === 1 ? gen.throw(arg) : gen.return(arg);
    if (r instanceof Promise) {
      // Subscribed inside the frame's context, so that the next step runs in
      // it too and resumes without a context switch.
      r.then(this.#onStepFn, this.#bodyThrewFn);
      return undefined;
    }
    return r;
  }

  // Bound once per frame rather than once per step.
  readonly #stepFn = (mode: 0 | 1 | 2, arg: unknown): unknown => this.#step(mode, arg);
  readonly #onStepFn = (res: IteratorResult<unknown>): void => this.#onStep(res);
  readonly #bodyThrewFn = (e: unknown): void => this.#bodyThrew(e);

  /** The step under way ended (at a yield, a return or a throw). */
  #stepEnded(): void {
    if (!this.#inStep) return;
    this.#inStep = false;
    this.run.stepping--;
    this.run.changed();
  }

  #onStep(res: IteratorResult<unknown>): void {
    // (The body went on after a failure sent into it: it caught it; the mark stays.)
    this.#marked = undefined;
    this.#stepEnded();
    if (res.done) {
      this.#returned = res.value;
      // A flow that returns does not wait for its pending sleeps and signal waits.
      if (this.run.waiting > 0) this.#cancelWaits(undefined);
      this.endBody();
      return;
    }
    if (this.run.fatal !== undefined) {
      this.#resume(2, undefined);
      return;
    }
    const yielded = res.value;
    if (
      typeof yielded === "object" && yielded !== null &&
      (yielded as AwaitRequest)[AWAIT] === "shield"
    ) {
      this.#shield = Math.max(0, this.#shield + ((yielded as AwaitRequest).target as number));
      this.#resume(0, undefined);
      return;
    }
    if (this.cancelled && this.#shield === 0) {
      if (this.#cancelDelivered) {
        this.#stopped = true;
        this.#resume(2, undefined);
      } else this.#deliverCancel();
      return;
    }
    this.#wait(yielded);
  }

  /**
   * A call from the body: refuses the async generator a call of the flow's
   * own generator function makes (see `#rawGeneratorError`).
   */
  override call(def: unknown, inputs: unknown): Handle<unknown> {
    const args = inputs as Record<string, unknown>;
    for (const key in args) {
      const v = args[key];
      if (typeof v === "object" && v !== null && rawGenerator(v)) {
        throw this.#rawGeneratorError(`passed to ${(def as FlowDef).name}() as '${key}'`);
      }
    }
    return super.call(def, inputs);
  }

  /**
   * Inside `async function* fib(…) { … }` the name `fib` is the generator
   * function itself, not the flow made of it: calling it makes an async
   * generator, which is never a value of the run.
   */
  #rawGeneratorError(how: string): ValidationError {
    const name = this.#def.name;
    return new ValidationError(
      `Flow '${name}' ${how} an async generator: a call of a generator function such as its own '${name}(…)' inside 'async function* ${name}' makes a generator, not a call of the flow (in its own body the name is the raw generator function). Call the flow through the variable it was assigned to, with a generator of another name: const ${name} = flow(async function* ${name}Body(…) { … yield* wait(${name}(…)) … })`,
      { nodeId: this.node?.id ?? name, task: name },
    );
  }

  override get shieldDepth(): number {
    return this.#shield;
  }

  /**
   * The body's calls start at its next await point, outside the frame, so
   * that a task calling a task runs it directly, and so that the body can
   * still order a call after others (`after`) in the step that made it.
   */
  protected override readyNow(node: Node): void {
    this.run.readyLater(node);
  }

  /** Throws the cancellation into the body, at the await point where it is. */
  #deliverCancel(): void {
    this.#cancelDelivered = true;
    const reason = this.cancelReason;
    const error = reason instanceof CancelledError ? reason : new CancelledError(
      `Flow '${this.#def.name}'${this.node ? ` (node '${this.node.id}')` : ""} was cancelled: ${
        reason?.message ?? "the run was cancelled"
      }`,
      { nodeId: this.node?.id ?? this.#def.name, task: this.#def.name, cause: reason },
    );
    this.run.handled.add(error);
    this.#resume(1, error);
  }

  /** Resolves what the generator yielded and sends it back. */
  #wait(yielded: unknown): void {
    let target = yielded;
    let mode: "all" | "race" = "all";
    if (typeof yielded === "object" && yielded !== null) {
      const kind = (yielded as AwaitRequest)[AWAIT];
      if (kind !== undefined) {
        // (A shield request never gets here: #onStep takes it.)
        mode = kind as "all" | "race";
        target = (yielded as AwaitRequest).target;
      }
    }
    if (rawGenerator(target)) return this.#resume(1, this.#rawGeneratorError("waited for"));
    const uncalled = yieldedEntity(target);
    if (uncalled !== undefined) {
      // Yielding a task (or workflow, flow…) itself rather than a call of it is always a mistake.
      return this.#resume(
        1,
        new ValidationError(
          `Flow '${this.#def.name}' yielded ${
            describeEntity(uncalled)
          } itself, not a call of it; call it to run it and wait for its value: yield* wait(${uncalled.name}(…))`,
        ),
      );
    }
    this.#parked = true;
    if (mode === "all" && this.#waitSettled(target)) return;
    const send = (value: unknown) => {
      if (!this.#parked) return;
      this.#resume(0, value);
    };
    const fail = (error: unknown, from?: Node) => {
      if (!this.#parked) return;
      if (from !== undefined) this.#throwing(from);
      this.#resume(1, error);
    };
    if (mode === "race") return this.#race(target, send, fail);
    waitAll(this.run, target, send, fail);
  }

  /**
   * The common case of a wait, without closures: a plain value, or one handle
   * of this run that has settled (a sequential flow waits for a task that
   * already finished). Returns false when the general path must wait.
   */
  #waitSettled(target: unknown): boolean {
    if (typeof target !== "object" || target === null) {
      this.#resume(0, target);
      return true;
    }
    const slot = slotOf(target);
    if (slot === undefined) return false;
    const node = slot.source;
    const run = this.run;
    if (!(node instanceof Node) || node.run !== run || !isFinal(node.status)) return false;
    if (node.status !== "succeeded") {
      run.handled.add(node.error!);
      this.#throwing(node);
      this.#resume(1, node.error);
      return true;
    }
    if (!run.settled(node)) return false;
    this.#resume(0, selectOutput(node.def, node.value, slot.output));
    return true;
  }

  #race(
    target: unknown,
    send: (v: unknown) => void,
    fail: (e: unknown, from?: Node) => void,
  ): void {
    if (!Array.isArray(target) || target.length === 0) {
      return fail(
        new ValidationError(
          `race() in flow '${this.#def.name}' needs a non-empty array of handles`,
        ),
      );
    }
    let settled = false;
    const end = () => {
      settled = true;
      // The losing sleeps and signal waits are cancelled (a losing task keeps running).
      if (this.run.waiting > 0) this.#cancelWaits(target);
    };
    const run = this.run;
    for (const item of raceOrder(run, target)) {
      waitAll(run, item, (v) => {
        if (settled || beaten(run, target, item)) return;
        end();
        keepWinner(run, target, item);
        send(v);
      }, (e, from) => {
        if (settled || beaten(run, target, item)) return;
        end();
        keepWinner(run, target, item);
        fail(e, from);
      });
      if (settled) break;
    }
  }

  /** Cancels the pending waits among `items` (or among every child, when undefined). */
  #cancelWaits(items: readonly unknown[] | undefined): void {
    const nodes: Node[] = [];
    for (const item of items ?? this.children) {
      const node = item instanceof Node ? item : nodeOf(this.run, item);
      if (node !== undefined && isWaitNode(node) && !isFinal(node.status)) nodes.push(node);
    }
    for (const node of nodes) {
      this.run.cancelNode(
        node,
        new CancelledError(
          items === undefined
            ? `Flow '${this.#def.name}' returned before ${node.id} ended`
            : `${node.id} lost a race in flow '${this.#def.name}'`,
        ),
      );
    }
  }

  /**
   * A node's failure is sent to a body that awaits its handle itself
   * (`yield h`, `await h`): if the body goes on, it caught it.
   *
   * @param node The node, of this run.
   */
  thrownAt(node: Node): void {
    if (this.#inStep && node.run === this.run) this.#throwing(node);
  }

  /**
   * A node's failure is about to be thrown at the body's yield. A failure a
   * flow catches and goes on from is part of its history: a resume replays
   * it, so that the flow takes the same path. The failed node (for a
   * dependent skipped because of it, the node that failed) is marked caught
   * now, before the body runs, as what the body does next (the calls it
   * makes start at its next await point, before the engine hears of its
   * step) must not be durable before the mark; if the body lets the failure
   * escape before it calls anything more, `#bodyThrew` takes the mark back.
   *
   * @param node The node whose failure is sent.
   */
  #throwing(node: Node): void {
    const from = failedSource(node);
    if (from?.status === "failed" && this.run.caught(from)) {
      (this.#marked ??= []).push({ node: from, calls: this.children.length });
    }
  }

  /**
   * Takes back the marks of the failures sent into the step under way that
   * `escaped` is (or carries as its cause): they were not caught. Unless
   * `always`, only those after which the body made no call: a body that
   * calls something (to clean up, say) after catching a failure, then
   * rethrows it, went on from it, as one that rethrows it in a later step
   * does; a resume replays it, so that the body makes the same calls again.
   *
   * @param escaped What the body threw (or was about to be sent).
   * @param always Whether calls made since do not matter (the body never got the failure).
   */
  #takeBack(escaped: unknown, always: boolean): void {
    const marked = this.#marked;
    if (marked === undefined) return;
    this.#marked = undefined;
    for (const { node, calls } of marked) {
      if (!always && this.children.length !== calls) continue;
      if (carries(escaped, node.error)) this.run.uncaught(node);
    }
  }

  #bodyThrew(e: unknown): void {
    // The failures sent into the body that escaped it at once were not
    // caught. One that the body caught before it failed on something else
    // (a bug, another failure) was: a resume replays it.
    this.#takeBack(e, false);
    this.#stepEnded();
    const run = this.run;
    const error = run.fatal ?? asWeftError(e, this.node, run.rootName);
    this.#thrown = error;
    if (isFlowFailure(error)) run.handled.add(error);
    // An uncaught error cancels what the flow still has running (fail-fast);
    // under finish-running the flow fails once that has ended.
    if (!this.cancelled && this.#def.control.failurePolicy === "fail-fast") {
      this.cancelled = true;
      for (const child of this.children) {
        run.cancelNode(
          child,
          new CancelledError(`Cancelled because flow '${this.#def.name}' failed: ${error.message}`),
        );
      }
    }
    this.endBody();
  }

  protected override onCancel(_reason: WeftError): void {
    // A generator parked at an engine-resolved yield receives CancelledError
    // there; one waiting inside a handle's then() (`yield h`) receives it as
    // the failure of what it waits for. Inside nonCancellable it waits on.
    if (this.#parked && this.#gen !== undefined && this.#shield === 0) this.#deliverCancel();
  }

  finish(): void {
    if (this.finished) return;
    this.finished = true;
    const run = this.run;
    if (run.fatal !== undefined) return this.done(undefined, run.fatal, [run.fatal]);
    if (this.timedOut !== undefined) return this.conclude(undefined, this.timedOut);
    if (this.#thrown !== undefined) {
      const thrown = this.#thrown;
      const causes = thrown instanceof TaskFailedError && thrown.nodeId !== this.node?.id
        ? rootCauses(run.index(), thrown)
        : [thrown];
      for (const extra of this.unhandled()) if (!causes.includes(extra)) causes.push(extra);
      return this.conclude(undefined, thrown, causes);
    }
    // A cancelled body that returned on its own has handled its cancellation
    // (Temporal: a workflow that catches the cancellation may complete).
    if (this.cancelled && (this.#stopped || this.#gen === undefined)) {
      return this.done(undefined, this.cancelReason ?? run.cancelReason ?? cancelledError(run.id));
    }
    const causes = this.unhandled();
    if (causes.length > 0) return this.conclude(undefined, frameError(this.node, causes), causes);
    const returned = this.#returned;
    if (rawGenerator(returned)) {
      const error = this.#rawGeneratorError("returned");
      return this.conclude(undefined, error, [error]);
    }
    waitAll(run, returned, (value) => {
      if (this.#def.namedOutputs) {
        const missing = this.#def.outputs.filter((o) => !isPlainObject(value) || !(o in value));
        if (missing.length > 0) {
          const error = new TaskFailedError(
            `Flow '${this.#def.name}' declares outputs ${
              this.#def.outputs.join(", ")
            } but its return value lacks ${missing.join(", ")}; return an object with these keys`,
            { nodeId: this.node?.id ?? this.#def.name, task: this.#def.name },
          );
          return this.conclude(undefined, error, [error]);
        }
      }
      try {
        checkValue(value, () => `the value returned by flow '${this.#def.name}'`);
      } catch (e) {
        const error = asWeftError(e, this.node, run.rootName);
        return this.conclude(undefined, error, [error]);
      }
      this.conclude(value, undefined);
    }, (e) => {
      const error = asWeftError(e, this.node, run.rootName);
      this.conclude(undefined, error, rootCauses(run.index(), error));
    });
  }
}

/** Whether `e` is `error`, or has it in its chain of causes. */
function carries(e: unknown, error: unknown): boolean {
  for (let depth = 0; depth < 16 && typeof e === "object" && e !== null; depth++) {
    if (e === error) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

/** An entity a flow yielded instead of a call of it: itself, or inside a yielded array or object. */
function yieldedEntity(target: unknown): EntityDef | undefined {
  if (typeof target !== "object" && typeof target !== "function") return undefined;
  if (target === null) return undefined;
  const direct = entityOf(target);
  if (direct !== undefined || typeof target === "function") return direct;
  if (Array.isArray(target)) {
    for (const item of target) {
      if (typeof item === "function") {
        const def = entityOf(item);
        if (def !== undefined) return def;
      }
    }
  } else if (isPlainObject(target)) {
    for (const key in target) {
      const item = target[key];
      if (typeof item === "function") {
        const def = entityOf(item);
        if (def !== undefined) return def;
      }
    }
  }
  return undefined;
}

/** Whether a value is an async generator object (or holds one at the top of an array or object). */
function rawGenerator(x: unknown): boolean {
  const isGen = (v: unknown) =>
    typeof v === "object" && v !== null &&
    (v as { [Symbol.toStringTag]?: unknown })[Symbol.toStringTag] === "AsyncGenerator";
  if (isGen(x)) return true;
  if (Array.isArray(x)) return x.some(isGen);
  if (isPlainObject(x)) {
    for (const k in x) if (isGen(x[k])) return true;
  }
  return false;
}
