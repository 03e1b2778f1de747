/**
 * The abstract values of the skeleton walker's data-flow analysis: which
 * calls' handles a value may carry (`h`, a set of calls numbered by the
 * walker: see `handleOf` in walk_state.ts) and whether it may be
 * something callable (`f`: an entity, a function, or anything unknown), and
 * the loop and `switch` frames that `break` and `continue` leave.
 *
 * @module
 */

/**
 * A set of calls, as a bit set over their numbers. A value in a long flow
 * may carry the handles of hundreds of calls, and values are joined at
 * every branch and loop round: a join of bit sets is a few words, where a
 * join of sets of names copied every name. Never changed once made; the
 * empty set has no words.
 */
export type Handles = Readonly<Uint32Array>;

/** What the analysis knows of a value. */
export interface Value {
  /** The calls whose handles it may carry. */
  readonly h: Handles;
  /** Whether it may be callable (an entity, a function, something unknown). */
  readonly f: boolean;
}

/** A variable, as environments key it. */
export interface Variable {
  /**
   * Set once it can no longer be named: its scope ended, or a new variable
   * of the same name was declared in the same scope (a loop's next round).
   * Environments drop it: they would only grow with every round and every
   * block walked, and make each copy and join slower.
   */
  retired?: boolean;
}

/** The values of the variables in scope, by variable. */
export type Env = Map<Variable, Value>;

const NONE: Handles = new Uint32Array(0);
const EMPTY: Value = { h: NONE, f: false };
const CALLABLE: Value = { h: NONE, f: true };

function join(a: Value | undefined, b: Value): Value {
  if (a === undefined || a === b) return b;
  if (a.h.length === 0 && !a.f) return b;
  if (b.h.length === 0 && !b.f) return a;
  // Most joins add nothing (a loop's later rounds, a branch that did not
  // assign): then a value already made is the answer, and no set is made.
  if (a.h === b.h || within(b.h, a.h)) return b.f && !a.f ? { h: a.h, f: true } : a;
  if (within(a.h, b.h)) return a.f && !b.f ? { h: b.h, f: true } : b;
  const h = new Uint32Array(Math.max(a.h.length, b.h.length));
  for (let i = 0; i < h.length; i++) h[i] = (a.h[i] ?? 0) | (b.h[i] ?? 0);
  return { h, f: a.f || b.f };
}

/** Whether every call in `small` is in `big`. */
function within(small: Handles, big: Handles): boolean {
  for (let i = 0; i < small.length; i++) {
    if ((small[i]! & ~(big[i] ?? 0)) !== 0) return false;
  }
  return true;
}

/** Whether two sets of calls are the same. */
function same(a: Handles, b: Handles): boolean {
  if (a === b) return true;
  for (let i = Math.max(a.length, b.length) - 1; i >= 0; i--) {
    if ((a[i] ?? 0) !== (b[i] ?? 0)) return false;
  }
  return true;
}

/** Operations on values and environments. */
export const values = {
  /** Nothing: no handle, not callable. */
  empty: EMPTY,
  /** Something callable. */
  callable: CALLABLE,
  /**
   * The handle of one call.
   *
   * @param call The call's number.
   */
  handle: (call: number): Value => {
    const h = new Uint32Array((call >> 5) + 1);
    h[call >> 5] = 1 << (call & 31);
    return { h, f: false };
  },
  /** Whether a value may carry a handle. */
  carries: (v: Value): boolean => v.h.length > 0,
  /**
   * The calls of a set, in order of their numbers.
   *
   * @param h The set.
   * @returns Their numbers.
   */
  calls: (h: Handles): number[] => {
    const out: number[] = [];
    for (let i = 0; i < h.length; i++) {
      for (let w = h[i]!, b = 0; w !== 0; w >>>= 1, b++) if (w & 1) out.push(i * 32 + b);
    }
    return out;
  },
  /** The same handles, as data (what a wait or a plain function returns). */
  data: (v: Value): Value => v.f ? { h: v.h, f: false } : v,
  join,
  /** The union of several values. */
  union: (list: readonly Value[]): Value => list.reduce((a, b) => join(a, b), EMPTY),
  /** A new, empty environment. */
  env: (): Env => new Map(),
  /** A copy of an environment. */
  copyEnv: (env: Env): Env => new Map(env),
  /** The union of environments, variable by variable (retired variables left out). */
  joinEnv: (...envs: Env[]): Env => {
    const out: Env = new Map();
    for (const env of envs) {
      for (const [k, v] of env) if (k.retired !== true) out.set(k, join(out.get(k), v));
    }
    return out;
  },
  /**
   * Whether two environments hold the same values (retired variables, and
   * those in `ignore`, left out).
   */
  sameEnv: (a: Env, b: Env, ignore?: ReadonlySet<Variable>): boolean => {
    const skip = (k: Variable) => k.retired === true || ignore?.has(k) === true;
    for (const [k, v] of a) {
      if (skip(k)) continue;
      const w = b.get(k);
      if (w === undefined || w.f !== v.f || !same(w.h, v.h)) return false;
    }
    for (const k of b.keys()) if (!skip(k) && !a.has(k)) return false;
    return true;
  },
  /**
   * Retires a variable that can no longer be named, and drops it from an environment.
   *
   * @param env The environment.
   * @param variable The variable.
   */
  retire: (env: Env, variable: Variable): void => {
    variable.retired = true;
    env.delete(variable);
  },
};

/** A statement that `break` (and, for loops, `continue`) can leave. */
export interface Frame {
  /** A loop, a `switch`, or a labelled block. */
  kind: "loop" | "switch" | "block";
  /** Its label. */
  label: string | undefined;
  /** The environments where it was left by `break`. */
  breaks: Env[];
  /** The environments where a round ended by `continue`. */
  continues: Env[];
  /** Variables assigned inside it. */
  written: Set<Variable>;
  /** Variables read inside it. */
  read: Set<Variable>;
  /** Variables declared inside it (a new one each round: not carried). */
  declared: Set<Variable>;
}

/** The frames around the statement being walked. */
export class LoopFrames {
  #stack: Frame[] = [];

  /** Enters a frame. */
  push(kind: Frame["kind"], label: string | undefined): Frame {
    const frame: Frame = {
      kind,
      label,
      breaks: [],
      continues: [],
      written: new Set(),
      read: new Set(),
      declared: new Set(),
    };
    this.#stack.push(frame);
    return frame;
  }

  /** Leaves the innermost frame. */
  pop(): Frame {
    return this.#stack.pop()!;
  }

  /** The innermost frame. */
  top(): Frame {
    return this.#stack[this.#stack.length - 1]!;
  }

  /** Records a `break` or `continue` (to a label, or the innermost loop or `switch`). */
  exit(kind: "break" | "continue", label: string | undefined, env: Env): void {
    for (let i = this.#stack.length - 1; i >= 0; i--) {
      const f = this.#stack[i]!;
      const fits = label !== undefined
        ? f.label === label
        : kind === "break"
        ? f.kind !== "block"
        : f.kind === "loop";
      if (!fits) continue;
      (kind === "break" ? f.breaks : f.continues).push(new Map(env));
      return;
    }
  }

  /** Notes a variable assigned, in every enclosing loop. */
  assigned(variable: Variable): void {
    for (const f of this.#stack) if (f.kind === "loop") f.written.add(variable);
  }

  /** Notes a variable read, in every enclosing loop. */
  read(variable: Variable): void {
    for (const f of this.#stack) if (f.kind === "loop") f.read.add(variable);
  }

  /** Notes a variable declared, in every enclosing loop. */
  declared(variable: Variable): void {
    for (const f of this.#stack) if (f.kind === "loop") f.declared.add(variable);
  }
}
