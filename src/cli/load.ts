/**
 * Loads a script the way `weft compile` and `weft run` see it first: in a
 * child Deno process with no permissions at all, so that importing it can
 * touch nothing. The child imports the script by a literal specifier (which
 * needs no read permission) and reports its exported entities and their IR.
 *
 * @module
 */

import { ValidationError } from "../core/errors.ts";
import { cachedDescription, scriptSources } from "./compile_cache.ts";
import {
  type LoadFailure,
  MARKER,
  type ModuleSources,
  type ScriptDescription,
} from "./protocol.ts";
import { childCwd, importFlags } from "./script.ts";

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
  const load = (sources: ModuleSources | undefined) =>
    loadInChild(url, options, options.skeletons === false ? undefined : sources);
  // A description without skeletons is never cached: it would stand for one with them.
  if (options.cache === false || options.skeletons === false) {
    return await load(await scriptSources(url, options.allowImport ?? []));
  }
  return await cachedDescription(url, options.allowImport ?? [], load);
}

/**
 * Imports the script in a child with no permissions and describes it. The
 * child cannot read files, so the source of the script's modules (for its
 * flows' skeletons) is passed in the entry module it runs.
 */
async function loadInChild(
  url: URL,
  options: LoadOptions,
  sources: ModuleSources | undefined,
): Promise<ScriptDescription> {
  const describeUrl = new URL("./describe.ts", import.meta.url).href;
  const entry = [
    `import { describeModule, failure, report, startCollecting } from ${
      JSON.stringify(describeUrl)
    };`,
    `startCollecting();`,
    `let mod;`,
    `try { mod = await import(${JSON.stringify(url.href)}); }`,
    `catch (e) { report({ error: failure(e) }); Deno.exit(0); }`,
    `const sources = ${
      sources === undefined ? "undefined" : `JSON.parse(${JSON.stringify(JSON.stringify(sources))})`
    };`,
    `try { report({ ok: await describeModule(mod, ${JSON.stringify(url.href)}, sources) }); }`,
    `catch (e) { report({ error: failure(e) }); }`,
    `Deno.exit(0);`,
  ].join("\n");
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", "--no-prompt", ...importFlags(url, options.allowImport), "-"],
    cwd: childCwd(url),
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
