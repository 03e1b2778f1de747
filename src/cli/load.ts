/**
 * Loads a script the way `weft compile` and `weft run` see it first: its
 * static module graph is listed and fetched in the open (`deno info`, whose
 * downloads are printed), then the script is imported in a child Deno
 * process with no permissions at all, fetching turned off and imports
 * allowed only from the graph's hosts, so that importing it can touch
 * nothing and send nothing anywhere. The child imports the script by a
 * literal specifier (which needs no read permission) and reports its
 * exported entities and their IR; a child that does not report within the
 * load timeout is killed.
 *
 * @module
 */

import { parseDuration } from "../core/duration.ts";
import type { OptionSpec, ParsedArgs } from "./args.ts";
import { ValidationError } from "../core/errors.ts";
import { cachedDescription, type ListedGraph, scriptGraph } from "./compile_cache.ts";
import { escapeText } from "../core/escape.ts";
import { loaderFlags } from "./module_graph.ts";
import {
  type LoadFailure,
  MARKER,
  type ModuleSources,
  type ScriptDescription,
} from "./protocol.ts";
import { childCwd } from "./script.ts";
import { isSpec, scriptModule, shownName } from "./spec_module.ts";

/** How long loading a script may take when nothing says otherwise. */
export const DEFAULT_LOAD_TIMEOUT_MS = 30_000;

/**
 * The load timeout: `--load-timeout`, else `$WEFT_LOAD_TIMEOUT`, else 30 s.
 *
 * @param flag The `--load-timeout` value, if given.
 * @returns Milliseconds.
 * @throws {ValidationError} On a value that is not a duration.
 */
export function loadTimeoutMs(flag?: string): number {
  const value = flag ?? Deno.env.get("WEFT_LOAD_TIMEOUT");
  if (value === undefined || value === "") return DEFAULT_LOAD_TIMEOUT_MS;
  const what = flag !== undefined ? "--load-timeout" : "WEFT_LOAD_TIMEOUT";
  return parseDuration(/^\d+(\.\d+)?$/.test(value) ? Number(value) : value, what);
}

/** The options of the commands that load a script to describe it (`weft compile`, `weft inspect`). */
export const LOAD_OPTIONS: Record<string, OptionSpec> = {
  "allow-import": { type: "string", multiple: true },
  "load-timeout": { type: "string" },
  verbose: { type: "boolean" },
};

/**
 * How a command's `--allow-import`, `--load-timeout` and `--verbose` load a script.
 *
 * @param values The command's options.
 * @returns The options for {@linkcode loadScript}.
 */
export function loadOptionsOf(values: ParsedArgs["values"]): LoadOptions {
  return {
    allowImport: (values["allow-import"] as string[] | undefined) ?? [],
    verbose: values.verbose === true,
    timeoutMs: loadTimeoutMs(values["load-timeout"] as string | undefined),
  };
}

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
  /**
   * Extract flows' skeletons (the bench turns them off to measure what they cost).
   * @default true
   */
  skeletons?: boolean;
  /**
   * How long the child may take to import and describe the script, in ms.
   * @default loadTimeoutMs() (30 s, or $WEFT_LOAD_TIMEOUT)
   */
  timeoutMs?: number;
  /**
   * Told what the fetch step downloaded.
   * @default prints `weft: fetching URL` lines on stderr
   */
  onFetched?: (downloads: string[]) => void;
}

function printFetched(downloads: string[]): void {
  const lines = downloads.map((d) => `weft: fetching ${escapeText(d)}\n`).join("");
  Deno.stderr.writeSync(new TextEncoder().encode(lines));
}

/**
 * Imports a script in a child with no permissions and describes it (from
 * the compile cache when its module graph is unchanged).
 *
 * @param url The script's URL (see `resolveScript`).
 * @param options Extra import hosts, whether to use the cache.
 * @returns The exported entities and their IR.
 * @throws {ValidationError} When the script does not load, saying why and what to change.
 */
export async function loadScript(url: URL, options: LoadOptions = {}): Promise<ScriptDescription> {
  const allowImport = options.allowImport ?? [];
  const onFetched = options.onFetched ?? printFetched;
  const load = async (graph: ListedGraph | undefined, stripper?: Promise<Stripper | undefined>) => {
    try {
      return await loadInChild(url, options, graph, stripper);
    } catch (e) {
      // A module the graph needs is not in Deno's cache (weft's own lazily
      // loaded ones, or a cache cleared meanwhile): fetch, then load once more.
      if (!(e instanceof CachedOnlyMiss)) throw e;
      await fetchWeftModules(onFetched);
      return await loadInChild(url, options, await scriptGraph(url, allowImport, onFetched));
    }
  };
  // A description without skeletons is never cached: it would stand for one with them.
  // A spec is not cached: its document is not a module of the graph the cache is keyed on.
  if (options.cache === false || options.skeletons === false || isSpec(url)) {
    // Deno's type stripper loads while `deno info` lists the graph, on the
    // other core: the child then needs no `node:module` (see strip.ts).
    const stripper = options.skeletons === false ? undefined : loadStripper();
    const graph = await scriptGraph(url, allowImport, onFetched);
    const described = await load(graph, stripper);
    return graph === undefined ? described : { ...described, graph: graph.summary };
  }
  return await cachedDescription(url, allowImport, load, onFetched);
}

/** Deno's type stripper and how to use it (src/ir/skeleton/strip.ts). */
type Stripper = typeof import("../ir/skeleton/strip.ts") & {
  strip: Awaited<ReturnType<typeof import("../ir/skeleton/strip.ts")["loadStripper"]>>;
};

/** Loads the type stripper; undefined when it cannot be (the child then strips). */
async function loadStripper(): Promise<Stripper | undefined> {
  try {
    const module = await import("../ir/skeleton/strip.ts");
    return { ...module, strip: await module.loadStripper() };
  } catch {
    return undefined;
  }
}

/** The sources with their TypeScript stripped. */
function stripped(sources: ModuleSources, stripper: Stripper): ModuleSources {
  const out: ModuleSources = {};
  for (const [url, source] of Object.entries(sources)) {
    out[url] = stripper.isTyped(url)
      ? { ...source, stripped: stripper.stripTypes(stripper.strip, source.text) }
      : source;
  }
  return out;
}

/** The child could not load a module because fetching is off and it is not cached. */
class CachedOnlyMiss extends Error {}

/**
 * Fetches the modules weft itself loads in the children it starts (the
 * describer's parser, the run child's Workers), which the script's graph
 * may not include.
 *
 * @param onFetched Told what was downloaded.
 */
async function fetchWeftModules(onFetched: (downloads: string[]) => void): Promise<void> {
  const { downloadsOf } = await import("./module_graph.ts");
  for (const entry of ["./describe.ts", "./run_child.ts", "../ir/skeleton/extract.ts"]) {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", new URL(entry, import.meta.url).href],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).output();
    const downloads = downloadsOf(new TextDecoder().decode(out.stderr));
    if (downloads.length > 0) onFetched(downloads);
  }
}

/**
 * Imports the script in a child with no permissions and describes it. The
 * child cannot read files, so the source of the script's modules (for its
 * flows' skeletons) is passed in the entry module it runs.
 */
async function loadInChild(
  url: URL,
  options: LoadOptions,
  graph: ListedGraph | undefined,
  stripper?: Promise<Stripper | undefined>,
): Promise<ScriptDescription> {
  let sources = options.skeletons === false ? undefined : graph?.sources;
  const describeUrl = new URL("./describe.ts", import.meta.url).href;
  const module = await scriptModule(url);
  // A script that may define a flow (its skeleton's parser is then needed).
  const preload = sources !== undefined &&
    Object.values(sources).some((s) => /\bflow\b/.test(s.text));
  const strip = preload ? await stripper : undefined;
  if (sources !== undefined && strip !== undefined) sources = stripped(sources, strip);
  const entry = [
    `import { describeModule, failure, preloadSkeletonExtractor, report, startCollecting } from ${
      JSON.stringify(describeUrl)
    };`,
    `startCollecting();`,
    // The parser starts loading while the script does: one waits on the
    // other's files less (a hint only: describeModule loads it when needed).
    ...(preload ? [`preloadSkeletonExtractor();`] : []),
    `let mod;`,
    `try { mod = await import(${JSON.stringify(module)}); }`,
    `catch (e) { report({ error: failure(e) }); Deno.exit(0); }`,
    `const sources = ${
      sources === undefined ? "undefined" : `JSON.parse(${JSON.stringify(JSON.stringify(sources))})`
    };`,
    `try { report({ ok: await describeModule(mod, ${JSON.stringify(url.href)}, sources) }); }`,
    `catch (e) { report({ error: failure(e) }); }`,
    `Deno.exit(0);`,
  ].join("\n");
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--quiet",
      "--no-prompt",
      ...loaderFlags(graph?.summary, url, options.allowImport ?? []),
      "-",
    ],
    cwd: childCwd(url),
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    // A process group of its own, so that a loader that does not return is
    // killed whole (DENO_NOTES: Deno.kill(-pgid), never the kill binary).
    detached: true,
  }).spawn();
  const timeoutMs = options.timeoutMs ?? loadTimeoutMs();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      Deno.kill(-child.pid, "SIGKILL");
    } catch {
      // it ended
    }
  }, timeoutMs);
  let out: Deno.CommandOutput;
  try {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(entry)).catch(() => {});
    await writer.close().catch(() => {});
    out = await child.output();
  } finally {
    clearTimeout(timer);
  }
  if (timedOut) {
    throw new ValidationError(
      `Loading ${show(url)} did not finish within ${
        formatSeconds(timeoutMs)
      } and was stopped: its top-level code may loop or wait forever (top-level code should only define tasks and workflows); if it is only slow, raise the limit with --load-timeout or WEFT_LOAD_TIMEOUT`,
    );
  }
  const stdout = new TextDecoder().decode(out.stdout);
  const stderr = new TextDecoder().decode(out.stderr);
  const line = stdout.split("\n").reverse().find((l) => l.startsWith(MARKER));
  if (line === undefined) {
    if (CACHED_ONLY.test(stderr)) throw new CachedOnlyMiss(stderr);
    const detail = escapeText(
      stderr.trim().split("\n").filter((l) => l.trim() !== "").slice(0, 6).join("\n"),
    );
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
  if (graph !== undefined && isWeftMiss(result.error)) {
    throw new CachedOnlyMiss(result.error.message);
  }
  throw loadError(url, result.error, options.verbose ?? false, graph !== undefined);
}

/** Deno's refusal to fetch a module under `--cached-only`. */
const CACHED_ONLY = /--cached-only is specified/;

/** A cache miss of a module weft itself needs (then fetching weft's modules and trying again helps). */
function isWeftMiss(error: LoadFailure): boolean {
  if (!CACHED_ONLY.test(error.message)) return false;
  const own = new URL("../../", import.meta.url).href;
  return error.message.includes(own) || /JavaScript parser/.test(error.message) ||
    (error.stack ?? "").includes(`${own}src/ir/`);
}

function formatSeconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`;
}

function show(url: URL): string {
  return shownName(url);
}

/** Explains a load failure: what the script wanted, and what to change. */
function loadError(
  url: URL,
  error: LoadFailure,
  verbose: boolean,
  graphListed: boolean,
): ValidationError {
  const script = show(url);
  const denied = /Requires (\w+) access to "([^"]*)"/.exec(error.message);
  const miss = /(?:Specifier|npm package) not found in cache: "([^"]*)", --cached-only/.exec(
    error.message,
  );
  let message: string;
  if (isSpec(url) && error.name === "ValidationError" && error.message.startsWith(`${script}:`)) {
    // A mistake in a workflow spec, already one line with its line number.
    message = error.message.split("\n")[0]!;
  } else if (miss !== null || (denied !== null && denied[1] === "import" && graphListed)) {
    const what = miss?.[1] ?? `a module from ${denied![2]}`;
    message = `${script} imports ${
      miss === null ? what : `'${what}'`
    } while it loads, which is not in its static module graph (a computed dynamic import); weft fetches a script's modules before loading it and loads nothing else, so import it with a literal specifier (or from a task that declares permissions: { import: [...] })`;
  } else if (denied !== null && denied[1] === "import") {
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
