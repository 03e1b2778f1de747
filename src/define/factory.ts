/**
 * What the entity constructors share: the four ways to call `task`, `flow`
 * and `workflow` (a function; a method with its decorator context; options
 * and a function; options alone, giving a decorator), the checks of names,
 * options, inputs and outputs, and the callable an entity is.
 *
 * @module
 */

import { callEntity, ENTITY, noteEntity } from "../core/call_site.ts";
import { ValidationError } from "../core/errors.ts";
import type { EntityDef, SourceLocation } from "./defs.ts";
import { callerLocation, namedArgs } from "./entity.ts";
import { withOverrides } from "./overrides.ts";
import { type Param, parseParams, type Signature } from "./params.ts";

/** What a constructor tells the factory about its kind of entity. */
export interface EntityKind {
  /** The constructor's name, for messages. */
  readonly kind: "task" | "flow" | "workflow";
  /** What its function must be, for messages (`a function`). */
  readonly fnText: string;
  /** The option keys it takes. */
  readonly options: ReadonlySet<string>;
  /** How to give an entity a name, for the message when it has none. */
  readonly example: string;
}

/** What every constructor knows before it makes its entity. */
export interface EntityStart {
  /** The entity's name. */
  name: string;
  /** `task 'add'`: the entity in messages. */
  what: string;
  /** Where the entity was defined. */
  source: SourceLocation | undefined;
}

/** Makes an entity from its options and function, once it is named and its options are checked. */
export type MakeEntity<O, F> = (options: O, fn: F, start: EntityStart) => unknown;

/**
 * Whether `x` is a TC39 decorator context for a method.
 *
 * @param x The second argument of a call.
 * @returns True for a method decorator context.
 */
export function isDecoratorContext(x: unknown): x is ClassMethodDecoratorContext {
  return typeof x === "object" && x !== null && (x as { kind?: unknown }).kind === "method" &&
    "name" in x;
}

/**
 * Dispatches the four forms of `task`, `flow` and `workflow`: `(fn)`,
 * `(method, context)` as a decorator, `(options, fn)`, and `(options)` giving
 * a decorator; then names the entity and checks its option keys.
 *
 * @param spec The kind of entity.
 * @param a The first argument.
 * @param b The second argument.
 * @param make Makes the entity.
 * @returns The entity, or a decorator that makes it.
 * @throws {ValidationError} When the arguments fit none of the forms, the entity has no name, or an option is unknown.
 */
export function entityForms<O extends { name?: string }, F extends (...args: never[]) => unknown>(
  spec: EntityKind,
  a: unknown,
  b: unknown,
  make: MakeEntity<O, F>,
): unknown {
  const { kind, fnText } = spec;
  const build = (
    options: O,
    fn: F,
    decoratedName: string | undefined,
    source: SourceLocation | undefined,
  ) => make(options, fn, startEntity(spec, options, fn, decoratedName, source));
  if (typeof a === "function") {
    if (isDecoratorContext(b)) return build({} as O, a as F, String(b.name), callerLocation());
    if (b !== undefined) {
      throw new ValidationError(
        `${kind}(fn) takes one function; to pass options write ${kind}(options, fn)`,
      );
    }
    return build({} as O, a as F, undefined, callerLocation());
  }
  if (typeof a === "object" && a !== null && !Array.isArray(a)) {
    if (typeof b === "function") return build(a as O, b as F, undefined, callerLocation());
    if (b === undefined) {
      const location = callerLocation();
      return (fn: F, context: ClassMethodDecoratorContext) => {
        if (!isDecoratorContext(context)) {
          throw new ValidationError(
            `${kind}(options) returns a method decorator; to wrap a function write ${kind}(options, fn)`,
          );
        }
        return build(a as O, fn, String(context.name), location);
      };
    }
  }
  throw new ValidationError(
    `${kind}() takes ${fnText}, or options and ${fnText}; got ${typeof a}${
      b === undefined ? "" : ` and ${typeof b}`
    }`,
  );
}

/** Names an entity and checks its option keys. */
function startEntity(
  spec: EntityKind,
  options: { name?: string },
  fn: { name: string },
  decoratedName: string | undefined,
  source: SourceLocation | undefined,
): EntityStart {
  const name = options.name ?? (fn.name || decoratedName);
  if (!name) {
    throw new ValidationError(`A ${spec.kind} needs a name: ${spec.example}`);
  }
  const what = `${spec.kind} '${name}'`;
  for (const key of Object.keys(options)) {
    if (!spec.options.has(key)) {
      throw new ValidationError(
        `Unknown option '${key}' of ${what}; the options are ${[...spec.options].join(", ")}`,
      );
    }
  }
  return { name, what, source };
}

/**
 * The inputs of an entity: the `params` option, or its function's parameters.
 *
 * @param params The `params` option, if given.
 * @param fn The function.
 * @param what The entity in messages.
 * @param context Whether a final `ctx` parameter receives the task context.
 * @returns The inputs and how a direct call passes them.
 * @throws {ValidationError} On a malformed `params` option, an unreadable source or a duplicate name.
 */
export function signatureOf(
  params: unknown,
  fn: (...args: never[]) => unknown,
  what: string,
  context = false,
): Signature {
  let sig: Signature;
  if (params !== undefined) {
    if (!Array.isArray(params) || params.some((p) => typeof p !== "string" || p === "")) {
      throw new ValidationError(`The 'params' option of ${what} must be a list of input names`);
    }
    sig = {
      params: params.map((p): Param => ({ name: p as string, optional: false })),
      style: "positional",
    };
  } else sig = parseParams(fn, what, { context });
  checkUnique(sig.params.map((p) => p.name), `input names of ${what}`);
  return sig;
}

/** Checks an `outputs` option: the output names, or undefined when the option is absent. */
function outputsOption(outputs: unknown, what: string): string[] | undefined {
  if (outputs === undefined) return undefined;
  if (!Array.isArray(outputs) || outputs.some((o) => typeof o !== "string" || o === "")) {
    throw new ValidationError(`The 'outputs' option of ${what} must be a list of output names`);
  }
  checkUnique(outputs as string[], `output names of ${what}`);
  return [...outputs as string[]];
}

/** The fields of a task's or flow's definition that say how it is called and what it gives. */
export interface CallShape {
  params: Param[];
  outputs: string[];
  bare: boolean;
  namedOutputs: boolean;
  callStyle: "positional" | "object";
  style: "positional" | "object";
  source: SourceLocation | undefined;
}

/**
 * How a task or flow is called and what it gives, from its function and its
 * `params` and `outputs` options: a single unnamed output `o0` unless outputs
 * are named.
 *
 * @param options The entity's options.
 * @param fn Its function.
 * @param start Its name, how messages name it, where it was defined.
 * @param context Whether a final `ctx` parameter receives the task context.
 * @returns The fields, to spread into the definition.
 * @throws {ValidationError} On a malformed `params` or `outputs` option, an unreadable source or a duplicate name.
 */
export function callShape(
  options: { params?: unknown; outputs?: unknown },
  fn: (...args: never[]) => unknown,
  start: EntityStart,
  context = false,
): CallShape {
  const sig = signatureOf(options.params, fn, start.what, context);
  const outputs = outputsOption(options.outputs, start.what);
  return {
    params: sig.params,
    outputs: outputs ?? ["o0"],
    bare: outputs === undefined,
    namedOutputs: outputs !== undefined,
    callStyle: sig.style,
    style: sig.style,
    source: start.source,
  };
}

/**
 * Throws when a list of names has a duplicate.
 *
 * @param names The names.
 * @param what Names the list in the message.
 * @throws {ValidationError} Naming the duplicate.
 */
export function checkUnique(names: readonly string[], what: string): void {
  const seen = new Set<string>();
  for (const n of names) {
    if (seen.has(n)) throw new ValidationError(`Duplicate name '${n}' in the ${what}`);
    seen.add(n);
  }
}

/**
 * The function an entity is: calling it records, schedules or runs the
 * entity wherever the call lands (see `callEntity`).
 *
 * @param def The entity.
 * @param prototype The prototype to give it (a builder `Workflow`'s), if any.
 * @returns The callable, branded with the definition.
 */
export function entityFunction(def: EntityDef, prototype?: object): unknown {
  const call = function (...args: unknown[]): unknown {
    return callEntity(def, namedArgs(def, args));
  };
  if (prototype !== undefined) Object.setPrototypeOf(call, prototype);
  Object.defineProperty(call, "name", { value: def.name });
  Object.defineProperty(call, ENTITY, { value: def });
  Object.defineProperty(call, "with", {
    value: (options: unknown) => entityFunction(withOverrides(def, options)),
  });
  // (An overridden entity is the same entity: a loader lists it once.)
  if (def.call === undefined) noteEntity(def);
  return call;
}
