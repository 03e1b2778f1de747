/**
 * The permission plan of `weft run`: exactly the union of what the tasks a
 * workflow reaches declare, plus what weft itself needs (the store file) and
 * what the user adds with `--allow-extra`, turned into Deno flags.
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
  /** The Deno flags. */
  flags: string[];
  /** Each task's own declaration, resolved (for --isolate). */
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
  for (const t of tasks) {
    const declared = dag.tasks.find((d) => d.name === t)?.permissions ?? {};
    perTask[t] = resolvePaths(declared, options.baseDir);
    sources.push([t, perTask[t]!]);
  }
  if (options.store !== undefined) sources.push(["store", options.store]);
  if (options.extra !== undefined) {
    sources.push(["--allow-extra", resolvePaths(options.extra, Deno.cwd())]);
  }
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
