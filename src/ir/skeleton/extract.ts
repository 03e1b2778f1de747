/**
 * Flow skeletons, extracted when a script is compiled: each flow's
 * generator is found in its module's source (by the line its definition was
 * made at), walked (see `walk.ts`), and its calls resolved to the entities
 * the script defined. Flows called by flows are extracted too.
 *
 * Loaded only by the compile child (`src/cli/describe.ts`), and only when the
 * script defines a flow: it brings the JavaScript parser.
 *
 * @module
 */

import type { EntityDef, FlowDef } from "../../define/defs.ts";
import type { SkeletonZone } from "../../core/dag_format.ts";
import { child, identName, type Node } from "./ast.ts";
import { moduleScope } from "./module_scope.ts";
import { parseModule } from "./parse.ts";
import { moduleInfo, type ResolveContext } from "./resolve.ts";
import type { ModuleInfo } from "./resolve_types.ts";
import { walkFlow } from "./walk.ts";
import { zoneLists } from "../reach.ts";

/** What extraction needs from the loaded script. */
export interface SkeletonContext extends ResolveContext {
  /**
   * The namespace of a module the script loaded.
   *
   * @param url The module's URL.
   * @returns Its namespace, or undefined when it cannot be had.
   */
  namespace(url: string): Promise<Record<string, unknown> | undefined>;
}

/** A flow's skeleton and what it calls. */
export interface FlowSkeleton {
  /** The zones, call ids numbered `c1`, `c2`… in source order. */
  zones: SkeletonZone[];
  /** The entities its call zones call, each once, in order of first call. */
  calls: EntityDef[];
  /** Whether it has an unknown zone (then the flow may call anything). */
  unknown: boolean;
}

/**
 * Extracts the skeleton of every flow the given entities are or reach.
 *
 * @param roots The entities described (a script's exports).
 * @param ctx The loaded script's sources, definitions and modules.
 * @returns The skeleton of each flow.
 */
export async function extractSkeletons(
  roots: readonly EntityDef[],
  ctx: SkeletonContext,
): Promise<Map<FlowDef, FlowSkeleton>> {
  const out = new Map<FlowDef, FlowSkeleton>();
  const modules = new Map<string, Promise<ModuleInfo | { error: string }>>();
  const seen = new Set<EntityDef>();
  const pending: EntityDef[] = [...roots];
  while (pending.length > 0) {
    const def = pending.shift()!;
    if (seen.has(def)) continue;
    seen.add(def);
    switch (def.kind) {
      case "workflow":
        pending.push(...def.nodes.map((n) => n.def));
        break;
      case "launchPlan":
        pending.push(def.target);
        break;
      case "flow": {
        const skeleton = await flowSkeleton(def, ctx, modules);
        out.set(def, skeleton);
        pending.push(...skeleton.calls, ...(def.tasks ?? []));
        break;
      }
    }
  }
  return out;
}

async function flowSkeleton(
  def: FlowDef,
  ctx: SkeletonContext,
  modules: Map<string, Promise<ModuleInfo | { error: string }>>,
): Promise<FlowSkeleton> {
  const where = def.source;
  const unknown = (reason: string, source = `flow ${def.name}`): FlowSkeleton => ({
    zones: [{ kind: "unknown", source, reason, line: where?.line ?? 1 }],
    calls: [],
    unknown: true,
  });
  if (where === undefined) return unknown("where the flow is defined is not known");
  let loading = modules.get(where.file);
  if (loading === undefined) modules.set(where.file, loading = loadModule(where.file, ctx));
  const module = await loading;
  if ("error" in module) return unknown(module.error);
  const fn = findGenerator(module, def);
  if (typeof fn === "string") return unknown(fn);
  const walked = walkFlow(fn, module);
  // Each call's number in source order: `c1`, `c2`…
  const ids = new Map<string, number>();
  const number = (zones: SkeletonZone[]): void => {
    for (const z of zones) {
      if (z.kind === "call") ids.set(z.id, ids.size + 1);
      for (const list of zoneLists(z)) number(list);
    }
  };
  number(walked.zones);
  const names = ["", ...Array.from({ length: ids.size }, (_, i) => `c${i + 1}`)];
  // A list of keys as ids, each once, in call order. In a long flow a list
  // holds hundreds of keys (a value that may come from any earlier call),
  // and zones share lists (see `keysOf` in walk_state.ts): each list is
  // renamed once, its numbers sorted natively.
  const done = new Map<string[], string[]>();
  const rename = (keys: string[]): string[] => {
    let out = done.get(keys);
    if (out !== undefined) return out;
    const numbers = new Int32Array(keys.length);
    let n = 0;
    for (const k of keys) {
      const id = ids.get(k);
      if (id !== undefined) numbers[n++] = id;
    }
    const sorted = numbers.subarray(0, n).sort();
    out = [];
    for (let i = 0; i < n; i++) {
      if (i === 0 || sorted[i] !== sorted[i - 1]) out.push(names[sorted[i]!]!);
    }
    done.set(keys, out);
    return out;
  };
  const renamed = (zones: SkeletonZone[]): SkeletonZone[] =>
    zones.map((z): SkeletonZone => {
      switch (z.kind) {
        case "call":
          return { ...z, id: names[ids.get(z.id)!]!, from: rename(z.from) };
        case "wait":
          return { ...z, on: rename(z.on) };
        case "exit":
          return { ...z, from: rename(z.from) };
        case "loop":
          return {
            ...z,
            test: renamed(z.test),
            waits: rename(z.waits),
            body: renamed(z.body),
          };
        case "branch":
          return {
            ...z,
            waits: rename(z.waits),
            then: renamed(z.then),
            else: renamed(z.else),
          };
        case "switch":
          return {
            ...z,
            waits: rename(z.waits),
            cases: z.cases.map((c) => ({ ...c, body: renamed(c.body) })),
          };
        case "try": {
          const t: SkeletonZone = { kind: "try", body: renamed(z.body), line: z.line };
          if (z.catch !== undefined) t.catch = renamed(z.catch);
          if (z.finally !== undefined) t.finally = renamed(z.finally);
          return t;
        }
        case "helper":
          return { ...z, body: renamed(z.body) };
        case "unknown":
          return z;
      }
    });
  const calls: EntityDef[] = [];
  for (const [key] of ids) {
    const called = walked.calls.get(key);
    if (called !== undefined && !calls.includes(called)) calls.push(called);
  }
  return { zones: renamed(walked.zones), calls, unknown: walked.unknown };
}

async function loadModule(
  url: string,
  ctx: SkeletonContext,
): Promise<ModuleInfo | { error: string }> {
  const source = ctx.sources[url];
  const short = url.replace(/^.*\//, "");
  if (source === undefined) {
    return { error: `the source of ${short} was not available to read the flow from` };
  }
  const parsed = await parseModule(url, source.text, source.stripped);
  if ("error" in parsed) return { error: `${short} could not be read: ${parsed.error}` };
  const scope = moduleScope(parsed.program);
  const namespaces = new Map<string, Record<string, unknown> | undefined>();
  namespaces.set("", await ctx.namespace(url));
  for (const imp of scope.imports.values()) {
    if (namespaces.has(imp.source)) continue;
    let target: string;
    try {
      target = source.imports[imp.source] ?? new URL(imp.source, url).href;
    } catch {
      namespaces.set(imp.source, undefined);
      continue;
    }
    namespaces.set(imp.source, await ctx.namespace(target));
  }
  return moduleInfo(parsed, scope, namespaces, ctx);
}

/**
 * The generator function of a flow in its module: the one passed to the
 * `flow(…)` call (or under the decorator) at the line its definition was
 * made, else the only one with its name.
 */
function findGenerator(module: ModuleInfo, def: FlowDef): Node | string {
  const line = def.source!.line;
  const lineOf = module.parsed.lineOf;
  const name = def.fn.name;
  const sites = module.scope.generators;
  let atLine = sites.filter((s) =>
    (s.call !== undefined && lineOf(s.call) <= line && line <= lineOf(s.fn)) ||
    s.decorators.some((d) => lineOf(d) <= line && line <= lineOf(s.fn))
  );
  if (atLine.length > 1) atLine = atLine.filter((s) => (s.name ?? "") === name);
  if (atLine.length === 1) return atLine[0]!.fn;
  if (atLine.length === 0) {
    // `flow(gen)` with `gen` declared elsewhere in the module.
    const byName = sites.filter((s) => name !== "" && s.name === name);
    if (byName.length === 1) return byName[0]!.fn;
    const declared = module.scope.declarations.get(name);
    const fn = declared?.kind === "function" ? declared.node : undefined;
    if (fn !== undefined && identName(child(fn, "id")) === name) return fn;
    if (module.scope.imports.has(name)) {
      return `the generator ${name} is imported from another module; define the flow in the module of its generator to see its skeleton`;
    }
  }
  return `the generator of flow ${def.name} could not be found at line ${line} of ${
    module.url.replace(/^.*\//, "")
  }`;
}
