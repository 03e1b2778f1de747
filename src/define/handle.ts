/**
 * `Handle<T>`: the result of calling a task, workflow or flow while building
 * or running a graph. Passed as an argument it is an edge; in a flow, `yield`
 * (or `yield* wait(h)`) resolves it to its value.
 *
 * @module
 */

import { REF } from "../core/call_site.ts";
import { ValidationError } from "../core/errors.ts";
import { isPlainObject } from "../core/values.ts";

/**
 * Where a handle's value comes from. The engine's nodes, the builder's
 * symbolic references and direct calls each implement it.
 */
export interface RefSource {
  /** Names the source in messages, such as `node 'add_2'` or `input 'x'`. */
  describe(): string;
  /** The output names the source has, to check `handle.outputs.NAME`. */
  outputNames(): readonly string[];
  /** Resolves the (selected) value, or rejects with the failure. */
  settle(
    output: string | undefined,
    onValue: (v: unknown) => void,
    onError: (e: unknown) => void,
  ): void;
  /**
   * Makes the source's node start only after `deps` have succeeded (no data
   * passes): what `after(handle, ...deps)` asks. Absent where no node can wait.
   */
  orderAfter?(deps: readonly RefSource[]): void;
}

/** The internal slot of a handle: its source and the selected output. */
export interface RefSlot {
  /** Where the value comes from. */
  readonly source: RefSource;
  /** The selected output, or undefined for the whole value. */
  readonly output: string | undefined;
}

/**
 * A typed map of the named outputs of a handle: `o0` (the whole value of a
 * single-output task) and, for an object value, a handle per key. A
 * builder's nodes are `Handle<any>`, so any name type-checks there (and is
 * checked when the workflow is built).
 */
export type Outputs<T> = { readonly o0: Handle<T> } & { readonly [K in keyof T]-?: Handle<T[K]> };

/**
 * A reference to the future value of a node's output.
 *
 * A handle is `PromiseLike`, so `await` works, but in a flow `yield` (or the
 * typed `yield* wait(handle)`) is the documented await point. In a
 * declarative workflow body a handle is symbolic: it can be passed to other
 * calls and returned, but not used as a value.
 *
 * @typeParam T The type of the value.
 */
export class Handle<out T> implements PromiseLike<T> {
  /**
   * Internal: the source and selected output.
   *
   * @ignore
   */
  readonly [REF]: RefSlot;

  /**
   * Internal: handles are made by weft, not by users.
   *
   * @param source Where the value comes from.
   * @param output The selected output, or undefined for the whole value.
   */
  constructor(source: RefSource, output?: string) {
    // A source that is its own whole-value slot (an engine node) is shared by
    // its handles: a fan-out of 100,000 calls then keeps 100,000 fewer objects.
    this[REF] = output === undefined && (source as Partial<RefSlot>).source === source
      ? source as unknown as RefSlot
      : { source, output };
  }

  /**
   * The named outputs: `handle.outputs.o0` for a single-output task,
   * `handle.outputs.a` for a task declared with `outputs: ["a", …]`.
   *
   * @returns A handle per output; an unknown name throws a `ValidationError`.
   */
  get outputs(): Outputs<T> {
    const slot = this[REF];
    return new Proxy({}, {
      get(_target, key) {
        if (typeof key !== "string") return undefined;
        const names = slot.source.outputNames();
        if (!names.includes(key)) {
          throw new ValidationError(
            `${slot.source.describe()} has no output '${key}'; its outputs are ${
              names.length ? names.map((n) => `'${n}'`).join(", ") : "none"
            }${
              names.length === 1 && names[0] === "o0"
                ? ` (to name the fields of its result, declare outputs: ["${key}", …])`
                : ""
            }`,
          );
        }
        return new Handle(slot.source, key);
      },
      has(_target, key) {
        return typeof key === "string" && slot.source.outputNames().includes(key);
      },
      ownKeys() {
        return [...slot.source.outputNames()];
      },
      getOwnPropertyDescriptor(_target, key) {
        if (typeof key !== "string" || !slot.source.outputNames().includes(key)) return undefined;
        return { enumerable: true, configurable: true, value: new Handle(slot.source, key) };
      },
    }) as Outputs<T>;
  }

  /**
   * Resolves to the value, as a promise does.
   *
   * @param onfulfilled Called with the value.
   * @param onrejected Called with the failure (a `TaskFailedError`).
   * @returns A promise of what the callback returns.
   */
  then<R1 = T, R2 = never>(
    onfulfilled?: ((value: T) => R1 | PromiseLike<R1>) | null,
    onrejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    const slot = this[REF];
    return new Promise<T>((resolve, reject) => {
      slot.source.settle(slot.output, resolve as (v: unknown) => void, reject);
    }).then(onfulfilled, onrejected);
  }

  /**
   * Handles are not values: comparing or adding one is a mistake.
   *
   * @returns Never.
   * @throws {ValidationError} Always, with advice.
   */
  [Symbol.toPrimitive](): never {
    throw new ValidationError(
      `${
        this[REF].source.describe()
      } is a handle, not a value; in a flow resolve it with \`yield* wait(handle)\`, in a declarative workflow pass it to a task, or use flow() for logic on values`,
    );
  }

  /**
   * Describes the handle for debugging.
   *
   * @returns Such as `Handle(node 'add_2'.o0)`.
   */
  toString(): string {
    const slot = this[REF];
    return `Handle(${slot.source.describe()}${slot.output === undefined ? "" : `.${slot.output}`})`;
  }

  /**
   * Handles are not JSON data.
   *
   * @returns Never.
   * @throws {ValidationError} Always, with advice.
   */
  toJSON(): never {
    return this[Symbol.toPrimitive]();
  }
}

/**
 * Whether `x` is a handle (from any copy of weft in the process).
 *
 * @param x Anything.
 * @returns True for handles.
 */
export function isHandle(x: unknown): x is Handle<unknown> {
  return typeof x === "object" && x !== null && (x as { [REF]?: unknown })[REF] !== undefined;
}

/**
 * The slot of a handle.
 *
 * @param h A handle.
 * @returns Its source and selected output.
 */
export function slotOf<T>(h: Handle<T>): RefSlot {
  return h[REF];
}

// (Kept in values.ts, which has no heavy imports, so that the CLI's parent uses it too.)
export { isPlainObject };
