/**
 * Loads a script the way `weft compile` and `weft run` see it first: in a
 * child Deno process with no permissions at all, so that importing it can
 * touch nothing. The child imports the script by a literal specifier (which
 * needs no read permission) and reports its exported entities and their IR.
 *
 * @module
 */

import { ValidationError } from "../errors.ts";
import { WEFT_VERSION } from "../version.ts";
import { type LoadFailure, MARKER, type ScriptDescription } from "./protocol.ts";

/** Options of {@linkcode loadScript}. */
export interface LoadOptions {
  /** Extra hosts the script may import modules from. */
  allowImport?: string[];
  /** Print the child's stack on failure. */
  verbose?: boolean;
  /**
   * Reuse the description of an unchanged module graph.
   * @default true
   */
  cache?: boolean;
}

/**
 * Turns a script argument (a path or a URL) into a URL.
 *
 * @param script The argument.
 * @returns The script's URL.
 * @throws {ValidationError} When a local file does not exist.
 */
export async function resolveScript(script: string): Promise<URL> {
  if (/^https?:\/\//.test(script)) return new URL(script);
  const url = /^file:\/\//.test(script)
    ? new URL(script)
    : new URL(script, `file://${Deno.cwd()}/`);
  try {
    const info = await Deno.stat(url);
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
 * Imports a script in a child with no permissions and describes it.
 *
 * @param url The script's URL (see {@linkcode resolveScript}).
 * @param options Extra import hosts.
 * @returns The exported entities and their IR.
 * @throws {ValidationError} When the script does not load, saying why and what to change.
 */
export async function loadScript(url: URL, options: LoadOptions = {}): Promise<ScriptDescription> {
  const key = options.cache === false ? undefined : await graphKey(url, options.allowImport ?? []);
  const cached = key === undefined ? undefined : await readCache(key);
  if (cached !== undefined) return cached;
  const described = await loadInChild(url, options);
  if (key !== undefined) await writeCache(key, described);
  return described;
}

async function loadInChild(url: URL, options: LoadOptions): Promise<ScriptDescription> {
  const describeUrl = new URL("./describe.ts", import.meta.url).href;
  const entry = [
    `import { describeModule, failure, report, startCollecting } from ${
      JSON.stringify(describeUrl)
    };`,
    `startCollecting();`,
    `let mod;`,
    `try { mod = await import(${JSON.stringify(url.href)}); }`,
    `catch (e) { report({ error: failure(e) }); Deno.exit(0); }`,
    `try { report({ ok: describeModule(mod, ${JSON.stringify(url.href)}) }); }`,
    `catch (e) { report({ error: failure(e) }); }`,
    `Deno.exit(0);`,
  ].join("\n");
  const cwd = url.protocol === "file:" ? new URL(".", url).pathname : Deno.cwd();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", "--no-prompt", ...importFlags(url, options.allowImport), "-"],
    cwd,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(entry));
  await writer.close();
  const out = await child.output();
  const stdout = new TextDecoder().decode(out.stdout);
  const stderr = new TextDecoder().decode(out.stderr);
  const line = stdout.split("\n").reverse().find((l) => l.startsWith(MARKER));
  if (line === undefined) {
    const detail = stderr.trim().split("\n").filter((l) => l.trim() !== "").slice(0, 6).join("\n");
    throw new ValidationError(
      `Loading ${show(url)} failed before it could be described: ${
        detail || `exit code ${out.code}`
      }`,
    );
  }
  const result = JSON.parse(line.slice(MARKER.length)) as { ok: ScriptDescription } | {
    error: LoadFailure;
  };
  if ("ok" in result) return result.ok;
  throw loadError(url, result.error, options.verbose ?? false);
}

function show(url: URL): string {
  if (url.protocol !== "file:") return url.href;
  const path = decodeURIComponent(url.pathname);
  const cwd = Deno.cwd() + "/";
  return path.startsWith(cwd) ? path.slice(cwd.length) : path;
}

/** Explains a load failure: what the script wanted, and what to change. */
function loadError(url: URL, error: LoadFailure, verbose: boolean): ValidationError {
  const script = show(url);
  const denied = /Requires (\w+) access to "([^"]*)"/.exec(error.message);
  let message: string;
  if (denied !== null && denied[1] === "import") {
    message = `${script} imports a module from ${
      denied[2]
    }, which is not allowed by default; pass --allow-import ${denied[2]} if you trust it`;
  } else if (denied !== null) {
    message = `The top-level code of ${script} wanted ${denied[1]} access to "${
      denied[2]
    }" while being loaded with no permissions, so it was refused and nothing happened; top-level side effects belong in tasks (declare permissions: { ${
      denied[1]
    }: [${JSON.stringify(denied[2])}] } on the task that needs it)`;
  } else if (
    /^SyntaxError|SyntaxError:|The module's source code could not be parsed/.test(
      `${error.name}: ${error.message}`,
    )
  ) {
    const at = /\n\s*at (\S+:\d+:\d+)/.exec(error.message)?.[1];
    const where = at === undefined
      ? ""
      : ` at ${at.replace(/^file:\/\/[^:]*\//, "").replace(/^.*\//, "")}`;
    message = `${script} does not parse${where}: ${error.message.split("\n")[0]}`;
  } else if (
    /Module not found|Cannot (find|resolve) module|Import .* not a dependency/.test(error.message)
  ) {
    message = `${script} imports a module that cannot be found: ${error.message.split("\n")[0]}`;
  } else {
    message = `Loading ${script} failed: ${error.name}: ${error.message.split("\n")[0]}`;
  }
  const e = new ValidationError(message);
  if (verbose && error.stack !== undefined) e.stack = `${message}\n${error.stack}`;
  return e;
}

/**
 * A key for the script's module graph as it is now: every module's specifier
 * with its size (local files: their content's hash), the npm packages,
 * and the Deno and weft versions. `deno info` lists the graph without running
 * anything, in a few milliseconds; local files are keyed on their content, so
 * any change to any module gives a new key.
 *
 * @param url The script.
 * @param allowImport Extra import hosts.
 * @returns The key, or undefined when the graph cannot be listed (the child then explains why).
 */
async function graphKey(url: URL, allowImport: string[]): Promise<string | undefined> {
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", "--quiet", ...importFlags(url, allowImport), url.href],
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).output();
  } catch {
    return undefined;
  }
  if (!out.success) return undefined;
  let info: {
    modules?: { specifier: string; local?: string; size?: number; error?: string }[];
    npmPackages?: Record<string, unknown>;
  };
  try {
    info = JSON.parse(new TextDecoder().decode(out.stdout));
  } catch {
    return undefined;
  }
  const parts = [
    `weft ${WEFT_VERSION}`,
    `deno ${Deno.version.deno}`,
    `imports ${allowImport.join(",")}`,
  ];
  for (const m of [...(info.modules ?? [])].sort((a, b) => (a.specifier < b.specifier ? -1 : 1))) {
    if (m.error !== undefined) return undefined;
    let stamp = `${m.size ?? "?"}`;
    if (m.local !== undefined && m.specifier.startsWith("file:")) {
      // The content itself, not the modification time: an edit within the same millisecond counts.
      try {
        const bytes = await Deno.readFile(m.local);
        stamp = hex(await crypto.subtle.digest("SHA-256", bytes));
      } catch {
        return undefined;
      }
    }
    parts.push(`${m.specifier} ${stamp}`);
  }
  parts.push(...Object.keys(info.npmPackages ?? {}).sort());
  return hex(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(parts.join("\n"))));
}

function hex(digest: ArrayBuffer): string {
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Where compiled descriptions are kept: `$WEFT_CACHE_DIR`, else the user's cache directory. */
function cacheDir(): string | undefined {
  const explicit = Deno.env.get("WEFT_CACHE_DIR");
  if (explicit) return explicit;
  const base = Deno.env.get("XDG_CACHE_HOME") ??
    (Deno.env.get("HOME") ? `${Deno.env.get("HOME")}/.cache` : undefined);
  return base === undefined ? undefined : `${base}/weft/compile`;
}

async function readCache(key: string): Promise<ScriptDescription | undefined> {
  const dir = cacheDir();
  if (dir === undefined) return undefined;
  try {
    const parsed = JSON.parse(await Deno.readTextFile(`${dir}/${key}.json`)) as ScriptDescription;
    return parsed.dag?.format === "weft.dag/v1" ? parsed : undefined;
  } catch {
    return undefined;
  }
}

async function writeCache(key: string, described: ScriptDescription): Promise<void> {
  const dir = cacheDir();
  if (dir === undefined) return;
  try {
    await Deno.mkdir(dir, { recursive: true });
    // Write then rename, so that a reader never sees half a file.
    const tmp = `${dir}/${key}.${crypto.randomUUID()}.tmp`;
    await Deno.writeTextFile(tmp, JSON.stringify(described));
    await Deno.rename(tmp, `${dir}/${key}.json`);
  } catch {
    // A cache that cannot be written only costs time.
  }
}
