/**
 * Deno permissions as tasks declare them: `{ read: ["./data"], net:
 * ["example.com"], env: true }`. Checked when a task is defined; `weft run`
 * grants the union of what the selected workflow's tasks declare.
 *
 * @module
 */

import { ValidationError } from "../core/errors.ts";

/** The permission kinds a task may declare. */
export const PERMISSION_KINDS = [
  "read",
  "write",
  "net",
  "env",
  "run",
  "ffi",
  "sys",
  "import",
] as const;

/** What a list of each kind names. */
const WHAT_TO_NAME: Record<PermissionKind, string> = {
  read: "paths",
  write: "paths",
  net: "hosts",
  env: "variables",
  run: "commands",
  ffi: "libraries",
  sys: "interfaces (such as hostname)",
  import: "hosts",
};

/** One of {@linkcode PERMISSION_KINDS}. */
export type PermissionKind = typeof PERMISSION_KINDS[number];

/**
 * What a task needs: per kind, `true` (anything of that kind) or a list of
 * paths, hosts, variable names, commands or interfaces.
 */
export type Permissions = { [K in PermissionKind]?: true | string[] };

/**
 * Checks a declaration.
 *
 * @param value The `permissions` option as given.
 * @param what Names the task in messages.
 * @returns The declaration, copied.
 * @throws {ValidationError} On an unknown kind, a wrong shape, or a value Deno's flags cannot carry.
 */
export function checkPermissions(value: unknown, what: string): Permissions {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ValidationError(
      `The permissions of ${what} must be an object such as { read: ["./data"], net: ["example.com"] }`,
    );
  }
  const out: Permissions = {};
  for (const [kind, v] of Object.entries(value)) {
    if (!(PERMISSION_KINDS as readonly string[]).includes(kind)) {
      throw new ValidationError(
        `Unknown permission kind '${kind}' in ${what}; the kinds are ${
          PERMISSION_KINDS.join(", ")
        }`,
      );
    }
    if (v === true) {
      out[kind as PermissionKind] = true;
      continue;
    }
    if (v === false || v === undefined) continue;
    if (!Array.isArray(v) || v.some((x) => typeof x !== "string" || x.trim() === "")) {
      throw new ValidationError(
        `The '${kind}' permission of ${what} must be true or a list of non-empty strings; got ${
          JSON.stringify(v)
        }`,
      );
    }
    if (v.length === 0) {
      // Deno reads an empty list as no flag value at all ("--allow-net=" is an
      // error, "--allow-net" grants everything): refuse it where it is written.
      throw new ValidationError(
        `\`${kind}: []\` in the permissions of ${what} grants nothing; remove it or name ${
          WHAT_TO_NAME[kind as PermissionKind]
        }`,
      );
    }
    for (const x of v as string[]) {
      if (x.includes(",")) {
        throw new ValidationError(
          `The '${kind}' permission of ${what} lists "${x}", which contains a comma; Deno's --allow-${kind} flag cannot carry it: rename the path or grant its parent directory`,
        );
      }
    }
    out[kind as PermissionKind] = [...new Set(v as string[])];
  }
  return out;
}

/**
 * The union of several declarations: `true` wins over lists; lists merge.
 *
 * @param all The declarations.
 * @returns One declaration granting everything any of them grants.
 */
export function unionPermissions(all: Iterable<Permissions>): Permissions {
  const out: Permissions = {};
  for (const p of all) {
    for (const kind of PERMISSION_KINDS) {
      const v = p[kind];
      if (v === undefined) continue;
      const cur = out[kind];
      if (cur === true || v === true) out[kind] = true;
      else out[kind] = [...new Set([...(cur ?? []), ...v])].sort();
    }
  }
  return out;
}
