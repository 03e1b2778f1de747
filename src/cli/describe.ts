/**
 * Runs inside the child process that `weft compile` and `weft run` start
 * with no permissions: it describes what a freshly imported script exports,
 * or why importing it failed, as one marked line on stdout.
 *
 * @module
 */

import type { EntityDef } from "../define/defs.ts";
import { entityOf } from "../define/entity.ts";
import { describeCause } from "../core/errors.ts";
import { reachableTasks, toDag } from "../ir/mod.ts";

export { MARKER } from "./protocol.ts";
export type { ExportInfo, LoadFailure, ScriptDescription } from "./protocol.ts";
import { type ExportInfo, type LoadFailure, MARKER, type ScriptDescription } from "./protocol.ts";

const COLLECT = Symbol.for("weft.collect.v1");

/** Starts collecting every entity defined from now on. */
export function startCollecting(): void {
  (globalThis as unknown as Record<symbol, unknown[]>)[COLLECT] = [];
}

/**
 * Describes an imported module.
 *
 * @param mod The module namespace.
 * @param url The script's URL.
 * @returns The description.
 */
export function describeModule(mod: Record<string, unknown>, url: string): ScriptDescription {
  const collected = ((globalThis as unknown as Record<symbol, unknown[] | undefined>)[COLLECT] ??
    []) as EntityDef[];
  const exports: ExportInfo[] = [];
  const defs: EntityDef[] = [];
  for (const key of Object.keys(mod).sort()) {
    const def = entityOf(mod[key]);
    if (def === undefined) continue;
    exports.push({ export: key, kind: def.kind, name: def.name });
    defs.push(def);
  }
  // weft's own tasks (now, random) are not the module's.
  const moduleTasks = collected.filter((d) => d.kind === "task" && !d.name.startsWith("weft."));
  const dag = toDag(defs, { baseUrl: url, moduleEntities: moduleTasks });
  const reachable: [string, string[]][] = [];
  for (const e of exports) {
    try {
      reachable.push([e.name, reachableTasks(dag, e.name)]);
    } catch {
      // Left out: `weft run` then asks reachableTasks itself, and reports its error.
    }
  }
  return {
    url,
    exports,
    dag,
    moduleTasks: [...new Set(moduleTasks.map((t) => t.name))].sort(),
    // fromEntries, not assignment: an entity named __proto__ stays a key.
    reachable: Object.fromEntries(reachable),
  };
}

/**
 * Writes the protocol line.
 *
 * @param result The description or the failure.
 */
export function report(result: { ok: ScriptDescription } | { error: LoadFailure }): void {
  console.log(MARKER + JSON.stringify(result));
}

/**
 * Reduces a load error to data.
 *
 * @param e What the import threw.
 * @returns Its name, message and stack.
 */
export function failure(e: unknown): LoadFailure {
  const c = describeCause(e);
  const out: LoadFailure = { name: c.name, message: c.message };
  if (c.stack !== undefined) out.stack = c.stack;
  return out;
}
