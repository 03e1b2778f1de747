/**
 * Runs inside the child process that `weft compile` and `weft run` start
 * with no permissions: it describes what a freshly imported script exports,
 * or why importing it failed, as one marked line on stdout.
 *
 * @module
 */

import { type EntityDef, type EntityKind, entityOf } from "../entity.ts";
import { describeCause } from "../errors.ts";
import { type DagDocument, toDag } from "../ir.ts";

/** The prefix of the protocol line, apart from anything the script prints. */
export const MARKER = "\u001eweft-describe:";

/** One exported entity. */
export interface ExportInfo {
  /** The export name (`default` for a default export). */
  export: string;
  /** The entity kind. */
  kind: EntityKind;
  /** The entity name. */
  name: string;
}

/** What the child reports for a script that loaded. */
export interface ScriptDescription {
  /** The script's URL. */
  url: string;
  /** The exported entities, sorted by export name. */
  exports: ExportInfo[];
  /** The IR of every exported entity and what it references. */
  dag: DagDocument;
  /** The names of every task defined while loading (exported or not). */
  moduleTasks: string[];
}

/** What the child reports for a script that did not load. */
export interface LoadFailure {
  /** The error's name. */
  name: string;
  /** The error's message. */
  message: string;
  /** The stack, for --verbose. */
  stack?: string;
}

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
  return {
    url,
    exports,
    dag: toDag(defs, { baseUrl: url, moduleEntities: moduleTasks }),
    moduleTasks: [...new Set(moduleTasks.map((t) => t.name))].sort(),
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
