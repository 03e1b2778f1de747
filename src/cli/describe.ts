/**
 * Runs inside the child process that `weft compile` and `weft run` start
 * with no permissions: it describes what a freshly imported script exports,
 * or why importing it failed, as one marked line on stdout.
 *
 * @module
 */

import type { EntityDef, FlowDef, UserEntityDef } from "../define/defs.ts";
import { entityOf } from "../define/entity.ts";
import { describeCause } from "../core/errors.ts";
import {
  type FlowSkeletonInput,
  loadSkeletonExtractor,
  type Reach,
  reachOf,
  toDag,
} from "../ir/mod.ts";
import { all, race, wait } from "../define/yields.ts";
import { mapTask } from "../define/map.ts";
import { after } from "../define/ordering.ts";
import { signal, sleep, sleepUntil } from "../define/time.ts";

export { MARKER } from "./protocol.ts";
export type { ExportInfo, LoadFailure, ModuleSources, ScriptDescription } from "./protocol.ts";
import {
  DESCRIPTION_VERSION,
  type ExportInfo,
  type LoadFailure,
  MARKER,
  type ModuleSources,
  type ScriptDescription,
} from "./protocol.ts";

const COLLECT = Symbol.for("weft.collect.v1");

/**
 * The globals before the script loaded: a flow calling one of them calls a
 * built-in. Their descriptors, not their values: reading every global would
 * load each of Deno's lazily loaded ones (about 20 ms). An event handler's
 * getter (`onload`…) gives what was assigned to it: its value is kept.
 */
let builtins: Map<string, PropertyDescriptor> | undefined;

/** Starts collecting every entity defined from now on. */
export function startCollecting(): void {
  (globalThis as unknown as Record<symbol, unknown[]>)[COLLECT] = [];
  const g = globalThis as unknown as Record<string, unknown>;
  builtins = new Map();
  for (const [name, d] of Object.entries(Object.getOwnPropertyDescriptors(globalThis))) {
    builtins.set(name, d.get !== undefined && name.startsWith("on") ? { value: g[name] } : d);
  }
}

/**
 * Describes an imported module.
 *
 * @param mod The module namespace.
 * @param url The script's URL.
 * @returns The description.
 */
export async function describeModule(
  mod: Record<string, unknown>,
  url: string,
  sources?: ModuleSources,
): Promise<ScriptDescription> {
  const collected = ((globalThis as unknown as Record<symbol, unknown[] | undefined>)[COLLECT] ??
    []) as UserEntityDef[];
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
  const skeletons = sources !== undefined && collected.some((d) => d.kind === "flow")
    ? await skeletonsOf(defs, collected, sources)
    : undefined;
  const dag = toDag(defs, {
    baseUrl: url,
    moduleEntities: moduleTasks,
    ...(skeletons === undefined ? {} : { skeletons }),
  });
  const reach: [string, Reach][] = [];
  for (const e of exports) {
    try {
      reach.push([e.name, reachOf(dag, e.name)]);
    } catch {
      // Left out: `weft run` then asks reachOf itself, and reports its error.
    }
  }
  return {
    url,
    exports,
    dag,
    moduleTasks: [...new Set(moduleTasks.map((t) => t.name))].sort(),
    // fromEntries, not assignment: an entity named __proto__ stays a key.
    reach: Object.fromEntries(reach),
    version: DESCRIPTION_VERSION,
  };
}

/**
 * Starts loading the skeleton extractor (and its parser) without waiting for
 * it, so that it loads while the script does; a failure is left for
 * describeModule's own load to report.
 */
export function preloadSkeletonExtractor(): void {
  loadSkeletonExtractor().catch(() => {});
}

/** Extracts flows' skeletons: the parser is loaded here, and only when the script defines a flow. */
async function skeletonsOf(
  defs: EntityDef[],
  collected: UserEntityDef[],
  sources: ModuleSources,
): Promise<Map<FlowDef, FlowSkeletonInput>> {
  let extractor: Awaited<ReturnType<typeof loadSkeletonExtractor>>;
  try {
    extractor = await loadSkeletonExtractor();
  } catch (e) {
    // Not fetched yet (the child loads with fetching off): the parent fetches it and loads again.
    if (/--cached-only is specified/.test(describeCause(e).message)) throw e;
    // Without the parser (a frozen lockfile that lacks it, say), every flow
    // is unknown: it may call any task of its module, and says why.
    const reason = `the JavaScript parser could not be loaded (${describeCause(e).message})`;
    return new Map(
      collected.flatMap((d) =>
        d.kind === "flow"
          ? [[d, {
            zones: [{
              kind: "unknown",
              source: `flow ${d.name}`,
              reason,
              line: d.source?.line ?? 1,
            }],
            calls: [],
            unknown: true,
          }]]
          : []
      ),
    );
  }
  return await extractor.extractSkeletons(defs, {
    sources,
    collected,
    builtins: builtins ?? new Map(),
    waits: new Map<unknown, "wait" | "all" | "race" | "sleep" | "signal">([
      [wait, "wait"],
      [all, "all"],
      [race, "race"],
      [sleep, "sleep"],
      [sleepUntil, "sleep"],
      [signal, "signal"],
    ]),
    controls: new Map<unknown, "mapTask" | "after">([[mapTask, "mapTask"], [after, "after"]]),
    async namespace(module: string) {
      try {
        // Only modules the script has loaded are asked for: importing them again
        // needs no permission and runs nothing.
        return await import(module) as Record<string, unknown>;
      } catch {
        return undefined;
      }
    },
  });
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
