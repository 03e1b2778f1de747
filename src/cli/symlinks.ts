/**
 * Symbolic links that leave a granted tree. Deno checks a read or write
 * against the path as the code wrote it, never against where symlinks lead:
 * with `read: ["./data"]` granted, `data/link → /etc/passwd` reads
 * /etc/passwd. A Worker's permissions cannot be told otherwise, and
 * wrapping the file APIs in the task's thread would not hold (node:fs, FFI
 * and subprocesses reach the files without them). So before a run starts,
 * weft walks every directory a task may read or write and refuses to start
 * when a symlink there leads outside everything that task may read (or
 * write) — the real paths of its grants — listing the links. Creating a
 * symlink needs full read and write permission in Deno, so a task with
 * path-scoped grants cannot make one while the run goes on.
 *
 * @module
 */

import { ValidationError } from "../core/errors.ts";
import type { Permissions } from "../define/permissions.ts";

/** The most entries walked under one granted directory before weft gives up checking it. */
export const WALK_LIMIT = 100_000;

/** A link that leaves what a task is granted. */
export interface EscapingLink {
  /** The task granted the tree. */
  task: string;
  /** `read` or `write`. */
  kind: "read" | "write";
  /** The link. */
  link: string;
  /** Where it leads. */
  target: string;
}

/** What the walk found. */
export interface SymlinkReport {
  /** Links that leave their task's grants. */
  escaping: EscapingLink[];
  /** Granted directories too large to walk (more than {@linkcode WALK_LIMIT} entries). */
  unchecked: string[];
  /** Granted paths that are themselves links, with where they lead (shown in the plan). */
  aliases: { path: string; target: string }[];
}

function realOrSelf(path: string): string {
  try {
    return Deno.realPathSync(path);
  } catch {
    return path;
  }
}

function inside(path: string, root: string): boolean {
  return path === root || path.startsWith(root.endsWith("/") ? root : `${root}/`);
}

function dirOf(path: string): string {
  return path.slice(0, path.lastIndexOf("/")) || "/";
}

/** Where a link leads: its real path, or (dangling) its target made absolute. */
function targetOf(link: string): string {
  try {
    return Deno.realPathSync(link);
  } catch {
    let target: string;
    try {
      target = Deno.readLinkSync(link);
    } catch {
      return link;
    }
    return target.startsWith("/") ? target : `${realOrSelf(dirOf(link))}/${target}`;
  }
}

/**
 * Walks what each task may read and write for symlinks that lead outside it.
 *
 * @param perTask Each task's grant (paths absolute).
 * @returns The links that leave, the trees too large to walk, and granted links.
 */
export function findEscapingLinks(perTask: Record<string, Permissions>): SymlinkReport {
  const report: SymlinkReport = { escaping: [], unchecked: [], aliases: [] };
  const walked = new Map<string, string[] | "too large">();
  const seenAlias = new Set<string>();
  for (const [task, p] of Object.entries(perTask)) {
    for (const kind of ["read", "write"] as const) {
      const granted = p[kind];
      if (granted === undefined || granted === true) continue;
      const roots = granted.map(realOrSelf);
      for (const path of granted) {
        let info: Deno.FileInfo;
        try {
          info = Deno.lstatSync(path);
        } catch {
          continue; // not there (yet): nothing to follow
        }
        if (info.isSymlink) {
          if (!seenAlias.has(path)) {
            seenAlias.add(path);
            report.aliases.push({ path, target: targetOf(path) });
          }
          continue;
        }
        if (!info.isDirectory) continue;
        let links = walked.get(path);
        if (links === undefined) walked.set(path, links = linksUnder(path));
        if (links === "too large") {
          if (!report.unchecked.includes(path)) report.unchecked.push(path);
          continue;
        }
        for (const link of links) {
          const target = targetOf(link);
          if (!roots.some((r) => inside(target, r))) {
            report.escaping.push({ task, kind, link, target });
          }
        }
      }
    }
  }
  return report;
}

/** The symlinks under a directory (not followed), or "too large". */
function linksUnder(root: string): string[] | "too large" {
  const links: string[] = [];
  const stack = [root];
  let entries = 0;
  while (stack.length > 0) {
    const dir = stack.pop()!;
    let list: Iterable<Deno.DirEntry>;
    try {
      list = Deno.readDirSync(dir);
    } catch {
      continue; // unreadable: Deno would refuse the task too
    }
    for (const e of list) {
      if (++entries > WALK_LIMIT) return "too large";
      const path = `${dir}/${e.name}`;
      if (e.isSymlink) links.push(path);
      else if (e.isDirectory) stack.push(path);
    }
  }
  return links;
}

/**
 * Refuses a run whose grants hold symlinks that leave them.
 *
 * @param report What {@linkcode findEscapingLinks} found.
 * @throws {ValidationError} Listing the links, and what to do.
 */
export function refuseEscapingLinks(report: SymlinkReport): void {
  if (report.escaping.length === 0) return;
  const shown = report.escaping.slice(0, 5).map((e) =>
    `${e.link} → ${e.target} (task '${e.task}', ${e.kind})`
  );
  const more = report.escaping.length > 5 ? ` and ${report.escaping.length - 5} more` : "";
  throw new ValidationError(
    `A granted directory holds symlinks that lead outside what its task is granted: ${
      shown.join(", ")
    }${more}. Deno checks a grant against the path as written, not where links lead, so the task could ${
      report.escaping[0]!.kind
    } the target through them; remove the links, or grant their targets too`,
  );
}
