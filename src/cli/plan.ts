/**
 * The permission plan of `weft run`: what each task the workflow reaches
 * declares (and what the user adds to every task with `--allow-extra`), the
 * union the run's process holds, how modules load, and the Deno flags of
 * the run's process. The store is never in it: the parent owns the store.
 *
 * @module
 */

import { ValidationError } from "../core/errors.ts";
import type { DagDocument } from "../core/dag_format.ts";
import type { Reach } from "../ir/reach.ts";
import {
  checkPermissions,
  PERMISSION_KINDS,
  type PermissionKind,
  type Permissions,
  unionPermissions,
} from "../define/permissions.ts";

/** Why a permission is in the plan. */
export interface PlanEntry {
  /** The kind. */
  kind: PermissionKind;
  /** `true` (all of the kind) or the granted values. */
  values: true | string[];
  /** Who asked: task names, `store`, `--allow-extra`. */
  by: string[];
}

/** What `weft run` grants. */
export interface PermissionPlan {
  /** The tasks the workflow reaches. */
  tasks: string[];
  /** The union, with paths resolved. */
  permissions: Permissions;
  /** Each kind with who asked for it. */
  entries: PlanEntry[];
  /** The Deno flags of the union. */
  flags: string[];
  /** Each task's own grant, resolved, `--allow-extra` included. */
  perTask: Record<string, Permissions>;
}

/**
 * Parses `--allow-extra KIND=VALUE` (VALUE may be empty for all of a kind).
 *
 * @param specs The flag values.
 * @returns The declaration they make.
 * @throws {ValidationError} On an unknown kind or a malformed value.
 */
export function parseExtra(specs: string[]): Permissions {
  const out: Permissions = {};
  for (const spec of specs) {
    const m = /^(\w+)(?:=(.*))?$/.exec(spec);
    if (m === null || !(PERMISSION_KINDS as readonly string[]).includes(m[1]!)) {
      throw new ValidationError(
        `--allow-extra ${spec}: write KIND=VALUE (or KIND for all of a kind) with KIND one of ${
          PERMISSION_KINDS.join(", ")
        }`,
      );
    }
    const kind = m[1] as PermissionKind;
    const value = m[2];
    if (value === undefined || value === "") out[kind] = true;
    else if (out[kind] !== true) out[kind] = [...(out[kind] ?? []), value];
  }
  return checkPermissions(out, "--allow-extra");
}

/** Kinds whose values are paths (relative ones resolve against the script's directory). */
const PATH_KINDS = new Set<PermissionKind>(["read", "write", "ffi"]);

/**
 * Resolves relative paths of a declaration against a base directory.
 *
 * @param p The declaration.
 * @param baseDir An absolute directory.
 * @returns The declaration with absolute paths.
 */
export function resolvePaths(p: Permissions, baseDir: string): Permissions {
  const out: Permissions = {};
  for (const kind of PERMISSION_KINDS) {
    const v = p[kind];
    if (v === undefined) continue;
    if (v === true) {
      out[kind] = true;
      continue;
    }
    out[kind] = v.map((x) => {
      const isPath = PATH_KINDS.has(kind) || (kind === "run" && x.includes("/"));
      if (!isPath || x.startsWith("/")) return x;
      return normalize(`${baseDir.replace(/\/$/, "")}/${x}`);
    });
  }
  return out;
}

function normalize(path: string): string {
  const parts: string[] = [];
  for (const part of path.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") parts.pop();
    else parts.push(part);
  }
  return `/${parts.join("/")}`;
}

/**
 * Makes the plan for running an entity from a compiled document.
 *
 * @param dag The script's IR.
 * @param tasks The tasks the entity reaches (`reachableTasks` of its name).
 * @param options The script's directory, the store's needs, extra grants.
 * @returns The plan.
 */
export function planPermissions(
  dag: DagDocument,
  tasks: string[],
  options: { baseDir: string; store?: Permissions; extra?: Permissions },
): PermissionPlan {
  const perTask: Record<string, Permissions> = {};
  const sources: [string, Permissions][] = [];
  const extra = options.extra === undefined ? undefined : resolvePaths(options.extra, Deno.cwd());
  for (const t of tasks) {
    const declared = dag.tasks.find((d) => d.name === t)?.permissions ?? {};
    perTask[t] = resolvePaths(declared, options.baseDir);
    sources.push([t, perTask[t]!]);
    // What --allow-extra adds, every task gets (it names no task).
    if (extra !== undefined) perTask[t] = unionPermissions([perTask[t]!, extra]);
  }
  if (options.store !== undefined) sources.push(["store", options.store]);
  if (extra !== undefined) sources.push(["--allow-extra", extra]);
  const permissions = unionPermissions(sources.map(([, p]) => p));
  const entries: PlanEntry[] = [];
  for (const kind of PERMISSION_KINDS) {
    const v = permissions[kind];
    if (v === undefined) continue;
    entries.push({
      kind,
      values: v,
      by: sources.filter(([, p]) => p[kind] !== undefined).map(([who]) => who),
    });
  }
  return { tasks, permissions, entries, flags: permissionFlags(permissions), perTask };
}

/**
 * Deno flags granting a declaration.
 *
 * @param p The declaration.
 * @returns Such as `--allow-read=/a,/b`, `--allow-net`.
 */
export function permissionFlags(p: Permissions): string[] {
  const flags: string[] = [];
  for (const kind of PERMISSION_KINDS) {
    const v = p[kind];
    if (v === undefined) continue;
    flags.push(v === true ? `--allow-${kind}` : `--allow-${kind}=${v.join(",")}`);
  }
  return flags;
}

/**
 * What people should know about how the tasks were found: flows whose
 * skeleton has an unknown call (and the line that made it unknowable), and
 * `tasks:` options that disagree with the skeleton.
 *
 * @param reach What the entity reaches.
 * @returns Lines, without the `weft: ` prefix.
 */
export function describeReach(reach: Reach): string[] {
  const lines = reach.unknown.map((u) =>
    `flow '${u.flow}' may call anything from ${
      u.file ?? "its module"
    }:${u.line} (\`${u.source}\`: ${u.reason}), so it is granted every task of its module; give it tasks: [...] or call tasks directly`
  );
  for (const w of reach.warnings) lines.push(`warning: ${w}`);
  return lines;
}

/**
 * The plan as lines for people.
 *
 * @param plan The plan.
 * @returns One line per kind, or a line saying nothing is granted.
 */
export function describePlan(plan: PermissionPlan): string[] {
  if (plan.entries.length === 0) return ["no permissions (the tasks declare none)"];
  return plan.entries.map((e) =>
    `${e.kind.padEnd(6)} ${e.values === true ? "(all)" : e.values.join(", ")}  ← ${e.by.join(", ")}`
  );
}

/** How a run's modules load: what weft fetched before it, and what its threads must read. */
export interface ModulePlan {
  /** Read access the run's threads need (the module files, weft's own included). */
  moduleRead: string[];
  /** The hosts the fetched graph came from. */
  graphHosts: string[];
  /** The graph's npm packages. */
  npm: string[];
}

/** The Deno flags of a run's process, and what they let it load. */
export interface RunFlags {
  /** The flags. */
  flags: string[];
  /** The tasks that declare `import`: while any does, modules are fetched as the run goes. */
  fetchingBy: string[];
  /** The hosts the process may import from (`true`: any). */
  importHosts: true | string[];
}

/**
 * The flags of a run's process: its grants (per task: the union, which its
 * Workers are cut from, plus read on the module files; shared: the union),
 * the hosts it may import from (the graph's, and those of every task's
 * `import` and `net` grants), and no fetching at all (`--cached-only`)
 * unless a task declares `import`; then npm is turned off when the graph
 * has no npm package (Deno checks no permission when it fetches one).
 *
 * @param plan The grants.
 * @param mode `tasks` (the default) or `shared` (`--no-isolate`).
 * @param modules The module graph.
 * @returns The flags.
 */
export function runFlags(
  plan: PermissionPlan,
  mode: "tasks" | "shared",
  modules: ModulePlan,
): RunFlags {
  const union = plan.permissions;
  const granted: Permissions = mode === "shared" || union.read === true
    ? union
    : { ...union, read: [...new Set([...(union.read ?? []), ...modules.moduleRead])].sort() };
  const flags = permissionFlags(granted).filter((f) => !f.startsWith("--allow-import"));
  if (mode === "tasks") flags.push("--unstable-worker-options");
  let hosts: true | Set<string> = new Set(modules.graphHosts);
  const fetchingBy: string[] = [];
  for (const [task, p] of Object.entries(plan.perTask)) {
    if (p.import !== undefined) fetchingBy.push(task);
    for (const v of [p.import, p.net]) {
      if (v === true) hosts = true;
      else if (hosts !== true) { for (const h of v ?? []) hosts.add(h); }
    }
  }
  const importHosts = hosts === true ? true : [...hosts].sort();
  if (importHosts === true) flags.push("--allow-import");
  else if (importHosts.length === 0) flags.push("--deny-import");
  else flags.push(`--allow-import=${importHosts.join(",")}`);
  if (fetchingBy.length === 0) flags.push("--cached-only");
  else if (modules.npm.length === 0) flags.push("--no-npm");
  return { flags, fetchingBy, importHosts };
}

/**
 * Which mode a run is in, for the plan printed before it.
 *
 * @param plan The grants.
 * @param mode The mode.
 * @returns One line.
 */
export function describeMode(plan: PermissionPlan, mode: "tasks" | "shared"): string {
  if (mode === "shared") {
    return "mode --no-isolate: one process holds the union below; every task, workflow and flow code and top-level code can use all of it";
  }
  const none = plan.tasks.filter((t) => Object.keys(plan.perTask[t] ?? {}).length === 0);
  return `mode per-task (the default): each task that declares permissions runs in a Worker with only its own; workflow and flow code, top-level code${
    none.length > 0 ? ` and ${none.join(", ")} (they declare none)` : ""
  } hold no permission`;
}

/**
 * When a durable run's results are committed, for the plan printed before it
 * (the README's durability section says why).
 *
 * @param mode The mode.
 * @returns One line.
 */
export function describeDurability(mode: "tasks" | "shared"): string {
  return mode === "shared"
    ? "durable each result is committed before the run acts on it"
    : "durable results of tasks that declare nothing are committed behind the run, which goes at most 20 ms ahead; all is committed before a task that declares permissions starts, before a wait, and at the end";
}

/**
 * How the run loads modules, for the plan printed before it.
 *
 * @param modules The module graph.
 * @param flags The run's flags.
 * @returns Lines.
 */
export function describeModules(modules: ModulePlan, flags: RunFlags): string[] {
  const from = [
    ...modules.graphHosts,
    ...modules.npm.map((p) => `npm:${p}`),
  ];
  const lines = [
    `modules ${
      from.length === 0 ? "local only" : `from ${from.join(", ")}`
    } (fetched before the run)`,
  ];
  const hosts = flags.importHosts === true ? "any host" : flags.importHosts.join(", ") || "none";
  if (flags.fetchingBy.length === 0) {
    lines.push(
      `import nothing is fetched while it runs; a task may import from its import and net hosts, from Deno's cache only (${hosts})`,
    );
  } else {
    lines.push(
      `import modules are fetched while it runs, since ${flags.fetchingBy.join(", ")} declare${
        flags.fetchingBy.length === 1 ? "s" : ""
      } import: a task may import from its import and net hosts, any code of the run from the graph's hosts${
        modules.npm.length > 0
          ? ", and any code of the run may fetch npm packages (Deno checks no permission when it fetches one)"
          : "; npm is off"
      } (${hosts})`,
    );
  }
  return lines;
}
