/**
 * Where a script is, and how the processes weft starts for it see it: its
 * URL from a command-line argument, the directory they run in, the
 * configuration Deno finds there, and the hosts they may import from.
 *
 * @module
 */

import { ValidationError } from "../core/errors.ts";
import { scriptModule } from "./spec_module.ts";

/**
 * Turns a script argument (a path or a URL) into a URL.
 *
 * @param script The argument.
 * @returns The script's URL.
 * @throws {ValidationError} When a local file does not exist.
 */
export function resolveScript(script: string): URL {
  if (/^https?:\/\//.test(script)) return new URL(script);
  const url = /^file:\/\//.test(script)
    ? new URL(script)
    : new URL(script, `file://${Deno.cwd()}/`);
  try {
    // Synchronous file operations here and below: on the way to a run the
    // CLI waits for each anyway, and an asynchronous one costs more to start.
    const info = Deno.statSync(url);
    if (!info.isFile) {
      throw new ValidationError(`${script} is not a file; pass the path of a .ts script`);
    }
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new ValidationError(`No such script: ${script}`);
    throw e;
  }
  return url;
}

/**
 * The flags that let a child import a script from where it lives.
 *
 * @param url The script's URL.
 * @param extra Hosts given with --allow-import.
 * @returns `--allow-import=…` flags, or none.
 */
export function importFlags(url: URL, extra: string[] = []): string[] {
  const hosts = new Set(extra);
  if (url.protocol === "http:" || url.protocol === "https:") hosts.add(url.host);
  return hosts.size === 0 ? [] : [`--allow-import=${[...hosts].join(",")}`];
}

/**
 * Where the processes that load a script run: a local script's directory
 * (where its deno.json is found, and relative paths resolve), else here.
 *
 * @param url The script.
 * @returns The directory.
 */
export function childCwd(url: URL): string {
  return url.protocol === "file:" ? decodeURIComponent(new URL(".", url).pathname) : Deno.cwd();
}

/**
 * The deno.json (or deno.jsonc) that `deno run` of a local script would use:
 * the nearest one in its directory or above. A child whose main module is
 * elsewhere (the entry file of `weft run`) is given it with `--config`, so
 * that it resolves imports (import map, lockfile, workspace) as the loading
 * child and `deno info` do from the script's directory. (A package.json
 * alone is not passed on: `--config` names a deno.json.)
 *
 * @param url The script.
 * @returns The file's path, or undefined (a remote script, or none).
 */
export function scriptConfig(url: URL): string | undefined {
  if (url.protocol !== "file:") return undefined;
  for (
    let dir = realDir(childCwd(url)).replace(/\/+$/, "");;
    dir = dir.slice(0, dir.lastIndexOf("/"))
  ) {
    for (const name of ["deno.json", "deno.jsonc"]) {
      try {
        if (Deno.statSync(`${dir}/${name}`).isFile) return `${dir}/${name}`;
      } catch {
        // not here
      }
    }
    if (dir === "") return undefined;
  }
}

/**
 * A directory's real path: a process started there sees it (and looks for
 * configuration in its ancestors) with every symlink resolved.
 *
 * @param dir The directory.
 * @returns Its real path, or the path itself when it cannot be resolved.
 */
export function realDir(dir: string): string {
  try {
    return Deno.realPathSync(dir);
  } catch {
    return dir;
  }
}

/**
 * The local module files of a script (and weft's own), which every
 * `--isolate` Worker must be able to read.
 *
 * @param url The script.
 * @param importHosts Hosts it may import from.
 * @returns The files and directories, sorted.
 * @throws {ValidationError} When `deno info` cannot list them.
 */
export async function moduleFiles(url: URL, importHosts: string[]): Promise<string[]> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", ...importFlags(url, importHosts), await scriptModule(url)],
    cwd: childCwd(url),
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new ValidationError(
      `Cannot list the modules of ${url.href}: ${
        new TextDecoder().decode(out.stderr).trim().split("\n")[0]
      }`,
    );
  }
  const info = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    modules: { specifier: string; local?: string }[];
  };
  const files = new Set<string>();
  for (const m of info.modules) {
    if (m.specifier.startsWith("file://") && m.local) files.add(m.local);
  }
  // The Worker entry of weft itself, and everything it imports.
  for (const f of weftModuleFiles()) files.add(f);
  return [...files].sort();
}

let ownFiles: string[] | undefined;

/**
 * The files of weft's own modules, which the processes and Workers that run
 * a script must read: every module under weft's `src/` and its faces
 * (`mod.ts`…), one by one. Never weft's whole directory: run from a checkout
 * of weft, it holds the default store (`.weft/weft.db`), which the code of a
 * run must not read.
 *
 * @returns Absolute paths, sorted; none when weft is imported from a URL
 *   (its host is then an import host).
 */
export function weftModuleFiles(): string[] {
  if (ownFiles !== undefined) return ownFiles;
  const root = new URL("../../", import.meta.url);
  if (root.protocol !== "file:") return ownFiles = [];
  const dir = decodeURIComponent(root.pathname).replace(/\/$/, "");
  const found: string[] = [];
  const module = /\.(ts|js|mjs|json)$/;
  const walk = (at: string) => {
    for (const entry of Deno.readDirSync(at)) {
      if (entry.isDirectory) walk(`${at}/${entry.name}`);
      else if (entry.isFile && module.test(entry.name)) found.push(`${at}/${entry.name}`);
    }
  };
  walk(`${dir}/src`);
  for (const entry of Deno.readDirSync(dir)) {
    if (entry.isFile && /\.ts$/.test(entry.name)) found.push(`${dir}/${entry.name}`);
  }
  return ownFiles = found.sort();
}
