/**
 * A script's module graph as the processes weft starts may load it. weft
 * lists and fetches the static graph first, in the open (`deno info`, whose
 * downloads are printed), and then starts the processes that run the
 * script's code with fetching turned off (`--cached-only`) and imports
 * allowed only from the hosts the graph came from: the script's code cannot
 * make a request of its own by importing a module.
 *
 * What the graph reads of the local file system is said too: every file
 * outside the script's project (the directory of its nearest deno.json or
 * package.json, else its own directory) that it imports, with how (a
 * module, JSON, or text and bytes under `"unstable": ["raw-imports"]`),
 * since importing a file needs no read permission.
 *
 * @module
 */

import type { ModulePlan } from "./plan.ts";
import type { ModuleGraph } from "./protocol.ts";
import { childCwd, importFlags, moduleFiles, realDir, weftModuleFiles } from "./script.ts";

/** A module as `deno info --json` lists it (the fields used here). */
export interface InfoModule {
  /** Its URL. */
  specifier: string;
  /** Where its text is on disk. */
  local?: string;
  /** `TypeScript`, `Json`… */
  mediaType?: string;
  /** `esm`, `asserted`, `external`… */
  kind?: string;
  /** Its imports. */
  dependencies?: {
    specifier: string;
    code?: { specifier?: string };
    assertionType?: string;
  }[];
}

/** weft's own source tree, which every process weft starts reads. */
const WEFT_DIR = new URL("../../", import.meta.url);

/**
 * The directory the processes that run a script must read weft's modules
 * from (undefined when weft is imported from a URL: then its host is an
 * import host).
 *
 * @returns The directory, without a trailing slash.
 */
export function weftDir(): string | undefined {
  return WEFT_DIR.protocol === "file:"
    ? decodeURIComponent(WEFT_DIR.pathname).replace(/\/$/, "")
    : undefined;
}

/**
 * How a run's modules load: the files of the graph listed before it (weft's
 * own included), or, without one, those `deno info` lists now.
 *
 * @param graph The module graph the loader listed, if any.
 * @param url The script.
 * @param importHosts Hosts it may import from.
 * @returns The plan.
 */
export async function modulePlan(
  graph: ModuleGraph | undefined,
  url: URL,
  importHosts: string[],
): Promise<ModulePlan> {
  return {
    moduleRead: graph === undefined
      ? await moduleFiles(url, importHosts)
      : [...new Set([...graph.files, ...weftModuleFiles()])].sort(),
    graphHosts: graph?.hosts ?? [],
    npm: graph?.npm ?? [],
  };
}

/**
 * The host weft itself is imported from, when it is remote.
 *
 * @returns Such as `example.com:443`, or undefined for a local weft.
 */
export function weftHost(): string | undefined {
  return WEFT_DIR.protocol.startsWith("http") ? hostOf(WEFT_DIR) : undefined;
}

/** A URL's host as Deno's `--allow-import` takes it (with the port). */
function hostOf(url: URL): string {
  return `${url.hostname}:${url.port || (url.protocol === "https:" ? "443" : "80")}`;
}

/**
 * The project a local script belongs to: the directory of the nearest
 * deno.json, deno.jsonc or package.json above it, else its own directory.
 *
 * @param url The script.
 * @returns The directory's real path, or undefined for a remote script.
 */
export function projectRoot(url: URL): string | undefined {
  if (url.protocol !== "file:") return undefined;
  const start = realDir(childCwd(url)).replace(/\/+$/, "");
  for (let dir = start;; dir = dir.slice(0, dir.lastIndexOf("/"))) {
    for (const name of ["deno.json", "deno.jsonc", "package.json"]) {
      try {
        if (Deno.statSync(`${dir}/${name}`).isFile) return dir === "" ? "/" : dir;
      } catch {
        // not here
      }
    }
    if (dir === "") return start;
  }
}

function inside(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dir.endsWith("/") ? dir : `${dir}/`);
}

/**
 * Sums up a listed graph: local files, remote hosts, npm packages, and what
 * it reads outside the project.
 *
 * @param url The script.
 * @param modules The graph's modules (`deno info --json`).
 * @param npmPackages Its npm packages (`name@version`).
 * @returns The summary.
 */
export function summarizeGraph(
  url: URL,
  modules: readonly InfoModule[],
  npmPackages: readonly string[],
): ModuleGraph {
  const files = new Set<string>();
  const hosts = new Set<string>();
  const how = new Map<string, string>();
  const root = projectRoot(url);
  const own = weftDir();
  const ownUrl = WEFT_DIR.href;
  // The npm packages the script's own modules import (weft's are its business).
  const npm = new Set<string>();
  for (const m of modules) {
    const mine = m.specifier.startsWith(ownUrl);
    for (const d of m.dependencies ?? []) {
      const target = d.code?.specifier;
      if (target !== undefined && d.assertionType !== undefined) how.set(target, d.assertionType);
      if (!mine && target?.startsWith("npm:")) {
        const id = /^npm:\/?((?:@[^/]+\/)?[^/@]+@[^/]+)/.exec(target)?.[1];
        if (id !== undefined) npm.add(id);
      }
    }
  }
  const outside: ModuleGraph["outside"] = [];
  for (const m of modules) {
    if (m.specifier.startsWith("file:") && m.local !== undefined) {
      files.add(m.local);
      let real = m.local;
      try {
        real = Deno.realPathSync(m.local);
      } catch {
        // listed as it is
      }
      const mine = own !== undefined && (inside(m.local, own) || inside(real, own));
      if (root !== undefined && !mine && !inside(real, root)) {
        outside.push({ path: m.local, as: how.get(m.specifier) ?? "module" });
      }
    } else if (/^https?:/.test(m.specifier)) {
      hosts.add(hostOf(new URL(m.specifier)));
    }
  }
  const host = weftHost();
  if (host !== undefined) hosts.add(host);
  if (/^https?:/.test(url.protocol)) hosts.add(hostOf(url));
  return {
    files: [...files].sort(),
    hosts: [...hosts].sort(),
    npm: [...npm].filter((id) => npmPackages.length === 0 || npmPackages.includes(id)).sort(),
    outside: outside.sort((a, b) => (a.path < b.path ? -1 : 1)),
  };
}

/**
 * What `deno info` downloaded, from its progress output.
 *
 * @param stderr Its stderr.
 * @returns The URLs, in order.
 */
export function downloadsOf(stderr: string): string[] {
  // deno prints `Download URL`, coloured unless NO_COLOR.
  // deno-lint-ignore no-control-regex
  const plain = stderr.replace(/\u001b\[[0-9;]*m/g, "");
  return [...plain.matchAll(/^\s*Download (\S+)\s*$/gm)].map((m) => m[1]!);
}

/**
 * The flags that let a process load exactly the fetched graph: nothing is
 * fetched (`--cached-only`, which also covers npm packages, whose fetches
 * Deno checks against no permission), and imports are allowed only from the
 * graph's hosts (`--deny-import` when there are none), instead of Deno's
 * default list of hosts.
 *
 * @param graph The graph, or undefined when it could not be listed (the child then says why).
 * @param url The script.
 * @param allowImport Hosts given with `--allow-import`.
 * @returns The flags.
 */
export function loaderFlags(
  graph: ModuleGraph | undefined,
  url: URL,
  allowImport: readonly string[],
): string[] {
  if (graph === undefined) return ["--cached-only", ...importFlags(url, [...allowImport])];
  return ["--cached-only", ...hostFlags(graph.hosts)];
}

/**
 * `--allow-import=HOSTS`, or `--deny-import` for none.
 *
 * @param hosts The hosts.
 * @returns The flag.
 */
export function hostFlags(hosts: readonly string[]): string[] {
  return hosts.length === 0 ? ["--deny-import"] : [`--allow-import=${hosts.join(",")}`];
}

/**
 * The graph as lines for people: where its modules come from and what it
 * reads outside the project.
 *
 * @param graph The graph.
 * @param root The project directory, for relative paths.
 * @returns The lines (none for a graph of local modules inside the project).
 */
export function describeGraph(graph: ModuleGraph, root?: string): string[] {
  const lines: string[] = [];
  const own = weftHost();
  const hosts = graph.hosts.filter((h) => h !== own);
  if (hosts.length > 0) lines.push(`modules from ${hosts.join(", ")}`);
  if (graph.npm.length > 0) lines.push(`npm packages ${graph.npm.join(", ")}`);
  for (const o of graph.outside) {
    lines.push(
      `imports ${o.path}${o.as === "module" ? "" : ` (as ${o.as})`}, outside ${
        root ?? "the project"
      }`,
    );
  }
  return lines;
}
