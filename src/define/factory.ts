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

/** Makes an entity from its options and function, once the call's form is known. */
export type MakeEntity<O, F> = (
  options: O,
  fn: F,
  decoratedName: string | undefined,
  source: SourceLocation | undefined,
) => unknown;

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
 * a decorator.
 *
 * @param kind The constructor's name, for messages.
 * @param fnText What the function must be, for messages (`a function`).
 * @param a The first argument.
 * @param b The second argument.
 * @param make Makes the entity.
 * @returns The entity, or a decorator that makes it.
 * @throws {ValidationError} When the arguments fit none of the forms.
 */
export function entityForms<O extends object, F>(
  kind: "task" | "flow" | "workflow",
  fnText: string,
  a: unknown,
  b: unknown,
  make: MakeEntity<O, F>,
): unknown {
  if (typeof a === "function") {
    if (isDecoratorContext(b)) return make({} as O, a as F, String(b.name), callerLocation());
    if (b !== undefined) {
      throw new ValidationError(
        `${kind}(fn) takes one function; to pass options write ${kind}(options, fn)`,
      );
    }
    return make({} as O, a as F, undefined, callerLocation());
  }
  if (typeof a === "object" && a !== null && !Array.isArray(a)) {
    if (typeof b === "function") return make(a as O, b as F, undefined, callerLocation());
    if (b === undefined) {
      const location = callerLocation();
      return (fn: F, context: ClassMethodDecoratorContext) => {
        if (!isDecoratorContext(context)) {
          throw new ValidationError(
            `${kind}(options) returns a method decorator; to wrap a function write ${kind}(options, fn)`,
          );
        }
        return make(a as O, fn, String(context.name), location);
      };
    }
  }
  throw new ValidationError(
    `${kind}() takes ${fnText}, or options and ${fnText}; got ${typeof a}${
      b === undefined ? "" : ` and ${typeof b}`
    }`,
  );
}

/** What every constructor checks first. */
export interface EntityStart {
  /** The entity's name. */
  name: string;
  /** `task 'add'`: the entity in messages. */
  what: string;
}

/**
 * Names an entity and checks its option keys.
 *
 * @param kind The entity kind.
 * @param options The options given.
 * @param fn The function (its name is the default).
 * @param decoratedName The method name, for the decorator forms.
 * @param allowed The option keys the constructor takes.
 * @param example How to give it a name, for the message when it has none.
 * @returns The name, and how messages name the entity.
 * @throws {ValidationError} Without a name, or on an unknown option.
 */
export function startEntity(
  kind: "task" | "flow" | "workflow",
  options: { name?: string },
  fn: { name: string },
  decoratedName: string | undefined,
  allowed: ReadonlySet<string>,
  example: string,
): EntityStart {
  const name = options.name ?? (fn.name || decoratedName);
  if (!name) {
    throw new ValidationError(`A ${kind} needs a name: ${example}`);
  }
  const what = `${kind} '${name}'`;
  for (const key of Object.keys(options)) {
    if (!allowed.has(key)) {
      throw new ValidationError(
        `Unknown option '${key}' of ${what}; the options are ${[...allowed].join(", ")}`,
      );
    }
  }
  return { name, what };
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

/**
 * Checks an `outputs` option.
 *
 * @param outputs The option as given.
 * @param what The entity in messages.
 * @returns The output names, or undefined when the option is absent.
 * @throws {ValidationError} On a malformed list or a duplicate name.
 */
export function outputsOption(outputs: unknown, what: string): string[] | undefined {
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
 * How a task or flow is called and what it gives, from its signature and its
 * `outputs` option: a single unnamed output `o0` unless outputs are named.
 *
 * @param sig The inputs and how a direct call passes them.
 * @param outputs The `outputs` option, checked.
 * @param source Where the entity was defined.
 * @returns The fields, to spread into the definition.
 */
export function callShape(
  sig: Signature,
  outputs: string[] | undefined,
  source: SourceLocation | undefined,
): CallShape {
  return {
    params: sig.params,
    outputs: outputs ?? ["o0"],
    bare: outputs === undefined,
    namedOutputs: outputs !== undefined,
    callStyle: sig.style,
    style: sig.style,
    source,
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
