/**
 * What a name used in a flow stands for, decided from two sources of truth
 * and never guessed:
 *
 * - the module's source: `const inc = task({ name: "increment" }, …)` is
 *   matched to the definition the loader collected at that line (definitions
 *   carry `source: { file, line }`), which works for unexported entities
 *   too; a function declared in the module is a helper whose body is
 *   followed;
 * - the loaded module's values: an import (or an export) is looked up in the
 *   namespace of the module it comes from, so `import { add } from
 *   "./tasks.ts"`, `ns.add` and a decorated static method resolve to the
 *   very entity. A function of another of the script's modules is not
 *   followed: it is unknown.
 *
 * @module
 */

import type { EntityDef, UserEntityDef } from "../../define/defs.ts";
import { entityOf } from "../../define/entity.ts";
import { child, children, identName, isFunction, type Node, unwrap } from "./ast.ts";
import type { ModuleScope } from "./module_scope.ts";
import type { ParsedModule } from "./parse.ts";
import type { ControlName, ModuleInfo, Target } from "./resolve_types.ts";
import type { Stripped } from "./strip.ts";

/** weft's waiting functions by name, and the mode of wait each makes. */
const WAIT_NAMES: Record<string, "wait" | "all" | "race" | "sleep" | "signal"> = {
  wait: "wait",
  all: "all",
  race: "race",
  sleep: "sleep",
  sleepUntil: "sleep",
  signal: "signal",
};

/** weft's control functions by name. */
const CONTROL_NAMES: Record<string, ControlName> = { mapTask: "mapTask", after: "after" };

/** What resolving needs from the loaded script. */
export interface ResolveContext {
  /** The source of each of the script's modules, by URL, with its imports resolved (specifier → URL). */
  sources: Readonly<
    Record<string, {
      text: string;
      imports: Readonly<Record<string, string>>;
      stripped?: Stripped | { error: string };
    }>
  >;
  /** Every entity defined while the script loaded. */
  collected: readonly UserEntityDef[];
  /**
   * The globals before the script loaded, by name: their property
   * descriptors, not their values (see {@linkcode unchangedGlobal}).
   */
  builtins: ReadonlyMap<string, PropertyDescriptor>;
  /** weft's `wait`, `all` and `race` as this process loaded them. */
  waits: ReadonlyMap<unknown, "wait" | "all" | "race" | "sleep" | "signal">;
  /** weft's `mapTask` and `after` as this process loaded them. */
  controls?: ReadonlyMap<unknown, ControlName>;
}

/** The constructors whose calls define an entity, by the name weft exports them under. */
const CONSTRUCTORS: Record<string, EntityDef["kind"]> = {
  task: "task",
  flow: "flow",
  workflow: "workflow",
  Workflow: "workflow",
  launchPlan: "launchPlan",
};

/**
 * Makes the resolver of one module.
 *
 * @param parsed The module.
 * @param scope Its top level.
 * @param namespaces The namespace of the module itself (key `""`) and of each module it imports (by specifier), when loaded.
 * @param ctx What the loaded script offers.
 * @returns The module as the walker sees it.
 */
export function moduleInfo(
  parsed: ParsedModule,
  scope: ModuleScope,
  namespaces: ReadonlyMap<string, Record<string, unknown> | undefined>,
  ctx: ResolveContext,
): ModuleInfo {
  const url = parsed.url;
  const own = namespaces.get("");
  const imports = ctx.sources[url]?.imports ?? {};
  const resolveUrl = (specifier: string): string => {
    try {
      return imports[specifier] ?? new URL(specifier, url).href;
    } catch {
      return specifier;
    }
  };
  const isWait = (v: unknown, ns: Record<string, unknown> | undefined) => {
    const known = ctx.waits.get(v);
    if (known !== undefined) return known;
    // Another copy of weft (imported by another URL): its functions by name.
    const name = typeof v === "function" ? v.name : "";
    const mode = WAIT_NAMES[name];
    if (mode !== undefined && ns !== undefined && ns[name] === v) {
      if (typeof ns.flow === "function" && typeof ns.task === "function") return mode;
    }
    return undefined;
  };
  const isControl = (v: unknown, ns: Record<string, unknown> | undefined) => {
    const known = ctx.controls?.get(v);
    if (known !== undefined) return known;
    // Another copy of weft, as for the waits.
    const name = typeof v === "function" ? CONTROL_NAMES[v.name] : undefined;
    if (name !== undefined && ns !== undefined && ns[name] === v) {
      if (typeof ns.flow === "function" && typeof ns.task === "function") return name;
    }
    return undefined;
  };
  const runtime = (
    base: unknown,
    path: readonly string[],
    what: string,
    user: boolean,
    ns: Record<string, unknown> | undefined,
  ): Target => {
    let v = base;
    for (const p of path) {
      try {
        v = (v as Record<string, unknown> | null | undefined)?.[p];
      } catch {
        return { kind: "unknown", reason: `reading ${what} failed when the script loaded` };
      }
    }
    const def = entityOf(v);
    if (def !== undefined) return { kind: "entity", def };
    const via = path[path.length - 1];
    if (
      via !== undefined && typeof v === "function" &&
      (v === Function.prototype.call || v === Function.prototype.apply ||
        v === Function.prototype.bind)
    ) {
      return {
        kind: "unknown",
        reason: `a call through Function.prototype.${via}, which is not followed; call it directly`,
      };
    }
    const mode = isWait(v, path.length === 0 ? ns : undefined);
    if (mode !== undefined) return { kind: "wait", mode };
    const control = isControl(v, path.length === 0 ? ns : undefined);
    if (control !== undefined) return { kind: "control", name: control };
    if (v === undefined || v === null) {
      return { kind: "unknown", reason: `${what} is ${v} when the script has loaded` };
    }
    if (typeof v !== "function") return { kind: "data" };
    return user
      ? {
        kind: "unknown",
        reason: `${what} is a function of another module, which is not followed`,
      }
      : { kind: "plain" };
  };
  const show = (name: string, path: readonly string[]) => [name, ...path].join(".");
  const exported = (name: string) => scope.exports.get(name)?.[0];

  function resolve(name: string, path: readonly string[]): Target {
    const what = `'${show(name, path)}'`;
    const imp = scope.imports.get(name);
    if (imp !== undefined) {
      const ns = namespaces.get(imp.source);
      if (ns === undefined) {
        return {
          kind: "unknown",
          reason: `${what} comes from ${imp.source}, which could not be looked into`,
        };
      }
      const from = resolveUrl(imp.source);
      const base = imp.imported === "*" ? ns : ns[imp.imported];
      return runtime(base, path, what, Object.hasOwn(ctx.sources, from), ns);
    }
    const decl = scope.declarations.get(name);
    if (decl !== undefined) {
      const exportName = exported(name);
      const fromExport = () =>
        exportName !== undefined && own !== undefined
          ? runtime(own[exportName], path, what, true, undefined)
          : undefined;
      if (decl.kind === "function") {
        if (path.length === 0) return { kind: "helper", fn: decl.node, name };
        return fromExport() ?? { kind: "unknown", reason: `${what} cannot be seen in the source` };
      }
      if (decl.kind === "class" || decl.destructured) {
        return fromExport() ??
          { kind: "unknown", reason: `${what} is not a value weft can read from the source` };
      }
      if (decl.kind !== "const" && scope.assigned.has(name)) {
        return {
          kind: "unknown",
          reason: `'${name}' is assigned again, so what it holds can change`,
        };
      }
      const init = decl.init === undefined ? undefined : unwrap(decl.init);
      if (init !== undefined && path.length === 0) {
        const found = definedAt(init);
        if (found !== undefined) return found;
      }
      const viaExport = fromExport();
      if (viaExport !== undefined) return viaExport;
      if (init !== undefined && path.length === 0 && isFunction(init)) {
        return { kind: "helper", fn: init, name };
      }
      if (init !== undefined && isData(init)) return { kind: "data" };
      return {
        kind: "unknown",
        reason: `${what} holds what ${
          init === undefined ? "code elsewhere" : "an expression"
        } makes, which cannot be seen without running it`,
      };
    }
    // A global.
    const g = globalThis as unknown as Record<string, unknown>;
    if (unchangedGlobal(ctx.builtins, name)) {
      return runtime(g[name], path, what, false, undefined);
    }
    if (name in g) return runtime(g[name], path, what, true, undefined);
    return { kind: "unknown", reason: `${what} is not defined in the flow's module` };
  }

  /** The entity whose definition the loader collected at this initialiser, if exactly one. */
  function definedAt(init: Node): Target | undefined {
    if (init.type !== "CallExpression" && init.type !== "NewExpression") return undefined;
    const first = parsed.lineOf(init);
    const args = children(init, "arguments");
    const last = args.length > 0 ? parsed.lineOf(args[0]!) : first;
    let candidates = ctx.collected.filter((d) =>
      d.source !== undefined && d.source.file === url && d.source.line >= first &&
      d.source.line <= last
    );
    const calleeName = identName(unwrap(child(init, "callee")!));
    const imp = calleeName === undefined ? undefined : scope.imports.get(calleeName);
    const kind = imp === undefined ? undefined : CONSTRUCTORS[imp.imported];
    if (kind !== undefined) candidates = candidates.filter((d) => d.kind === kind);
    if (candidates.length > 1) {
      const name = staticName(init);
      if (name !== undefined) candidates = candidates.filter((d) => d.name === name);
    }
    return candidates.length === 1 ? { kind: "entity", def: candidates[0]! } : undefined;
  }

  // A name resolves the same way all through the walk (the module's top
  // level and the loaded script do not change meanwhile), and the walk asks
  // at every call and every round of a loop: once each.
  const resolved = new Map<string, Target>();
  const resolveOnce = (name: string, path: readonly string[]): Target => {
    const key = path.length === 0 ? name : `${name}\u0000${path.join("\u0000")}`;
    let target = resolved.get(key);
    if (target === undefined) resolved.set(key, target = resolve(name, path));
    return target;
  };
  return { url, parsed, scope, resolve: resolveOnce };
}

/** The name an entity constructor call gives, when it is written out (`{ name: "x" }`, `function x`, `new Workflow("x")`). */
function staticName(call: Node): string | undefined {
  for (const arg of children(call, "arguments").map(unwrap)) {
    if (arg.type === "Literal" && typeof arg.value === "string") return arg.value;
    if (arg.type === "ObjectExpression") {
      for (const p of children(arg, "properties")) {
        const key = child(p, "key");
        const value = child(p, "value");
        if (
          (identName(key) === "name" || key?.value === "name") && value?.type === "Literal" &&
          typeof value.value === "string"
        ) {
          return value.value;
        }
      }
    }
    if (isFunction(arg)) {
      const name = identName(child(arg, "id"));
      if (name !== undefined) return name;
    }
  }
  return undefined;
}

/** Whether an initialiser is plain data: literals, and arrays and objects of them. */
function isData(node: Node): boolean {
  const n = unwrap(node);
  switch (n.type) {
    case "Literal":
      return true;
    case "TemplateLiteral":
      return children(n, "expressions").length === 0;
    case "UnaryExpression":
      return isData(child(n, "argument")!);
    case "ArrayExpression":
      return children(n, "elements").every(isData);
    case "ObjectExpression":
      return children(n, "properties").every((p) =>
        p.type === "Property" && p.computed !== true && p.method !== true &&
        isData(child(p, "value")!)
      );
    default:
      return false;
  }
}

/** Re-exported for the extractor: a module's top level and program, for {@linkcode moduleInfo}. */
export type { ModuleScope, ParsedModule };

/**
 * Whether a global is still what it was before the script loaded (then
 * calling it calls a built-in). Its descriptor was kept, not its value:
 * many of Deno's globals are getters that load their module when first read
 * (reading them all costs about 20 ms). Such a getter is still there unless
 * the script replaced it: assigning one of them redefines it as a value.
 * An event handler (`onload`…) is a getter too, of whatever was assigned to
 * it: its value was kept instead (see `startCollecting` in src/cli/describe.ts).
 *
 * @param before The descriptors of the globals before the script loaded.
 * @param name A global's name.
 * @returns Whether it is unchanged.
 */
function unchangedGlobal(
  before: ReadonlyMap<string, PropertyDescriptor>,
  name: string,
): boolean {
  const was = before.get(name);
  if (was === undefined) return false;
  if ("value" in was) return was.value === (globalThis as Record<string, unknown>)[name];
  const now = Object.getOwnPropertyDescriptor(globalThis, name);
  return now !== undefined && now.get === was.get && now.set === was.set;
}
