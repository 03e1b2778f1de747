/**
 * Calling a task's function with its inputs and context, and turning what it
 * returned into the node's value (named outputs picked out of an object or
 * array, and checked to be serialisable): shared by the engine's attempts and
 * by queue workers, which run attempts outside any run.
 *
 * @module
 */

import { ValidationError } from "../core/errors.ts";
import { checkValue, isPlainObject } from "../core/values.ts";
import type { TaskDef } from "../define/defs.ts";
import type { TaskContext } from "../define/task.ts";

/**
 * Calls a task's function once.
 *
 * @param def The task.
 * @param inputs Its inputs by name.
 * @param ctx Its context.
 * @returns What the function returned (a value or a promise).
 */
export function callTask(def: TaskDef, inputs: Record<string, unknown>, ctx: TaskContext): unknown {
  const fn = def.fn as (...a: unknown[]) => unknown;
  if (def.style === "object") return Reflect.apply(fn, null, [inputs, ctx]);
  const params = def.params;
  const args = new Array(params.length + 1);
  for (let i = 0; i < params.length; i++) args[i] = inputs[params[i]!.name];
  args[params.length] = ctx;
  return Reflect.apply(fn, undefined, args);
}

/**
 * A task's value from what its function returned.
 *
 * @param def The task.
 * @param nodeId Its node, for messages.
 * @param result What the function returned (awaited).
 * @returns The node's value.
 * @throws {ValidationError} When named outputs are missing, or the value cannot be stored.
 */
export function taskValue(def: TaskDef, nodeId: string, result: unknown): unknown {
  const value = def.namedOutputs ? namedOutputs(nodeId, def, result) : result;
  if (
    (typeof value === "object" && value !== null) || typeof value === "function" ||
    typeof value === "symbol"
  ) {
    checkValue(value, () => `The value returned by task '${def.name}' (node '${nodeId}')`);
  }
  return value;
}

/** The outputs of a task declared with `outputs`, from the object or array it returned. */
function namedOutputs(nodeId: string, def: TaskDef, result: unknown): Record<string, unknown> {
  const names = def.outputs;
  if (Array.isArray(result)) {
    if (result.length !== names.length) {
      throw new ValidationError(
        `Task '${def.name}' (node '${nodeId}') declares ${names.length} outputs (${
          names.join(", ")
        }) but returned an array of ${result.length}`,
      );
    }
    const out: Record<string, unknown> = {};
    names.forEach((n, i) => (out[n] = result[i]));
    return out;
  }
  if (!isPlainObject(result)) {
    throw new ValidationError(
      `Task '${def.name}' (node '${nodeId}') declares outputs ${names.join(", ")} but returned ${
        result === null ? "null" : typeof result
      }; return an object with these keys (or an array in this order)`,
    );
  }
  const missing = names.filter((n) => !(n in result));
  if (missing.length > 0) {
    throw new ValidationError(
      `Task '${def.name}' (node '${nodeId}') declares outputs ${
        names.join(", ")
      } but its result lacks ${missing.join(", ")}`,
    );
  }
  const out: Record<string, unknown> = {};
  for (const n of names) out[n] = result[n];
  return out;
}
