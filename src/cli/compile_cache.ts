/**
 * The compile cache: a script's description (its exports and IR, which
 * decide what a run is granted) kept under a key of its whole module graph,
 * so that an unchanged script is not imported twice and any edit is seen at
 * once. The cache directory must be private to the user.
 *
 * @module
 */

import { cacheDir } from "./cache_dir.ts";
import { parseStrictJsonc } from "./config_keys.ts";
import { WEFT_VERSION } from "../core/version.ts";
import {
  DESCRIPTION_VERSION,
  type ModuleGraph,
  type ModuleSources,
  type ScriptDescription,
} from "./protocol.ts";
import { moduleSources, readText } from "./sources.ts";
import { childCwd, importFlags, realDir } from "./script.ts";
import { scriptModule } from "./spec_module.ts";
import { downloadsOf, summarizeGraph } from "./module_graph.ts";

/**
 * The description of a script, from the cache when its module graph is
 * unchanged, else from `load` (and then cached).
 *
 * Descriptions are keyed by the script's module graph (see
 * {@linkcode listGraph}). Listing the graph takes a `deno info` process; a
 * manifest of the files that decided the graph lets a later load skip it
 * when none of them changed.
 *
 * @param url The script's URL.
 * @param allowImport Extra hosts it may import from.
 * @param load Describes the script when the cache cannot.
 * @returns The description.
 */
export async function cachedDescription(
  url: URL,
  allowImport: string[],
  load: (graph: ListedGraph | undefined) => Promise<ScriptDescription>,
  onFetched: OnFetched = () => {},
): Promise<ScriptDescription> {
  const dir = cacheDir();
  if (dir === undefined) {
    const listed = await listGraph(url, allowImport, undefined, onFetched);
    return withGraph(await load(listed), listed);
  }
  // Where Deno looks for configuration: the real directory of the script
  // (the working directory of a child started in a symlinked directory is
  // where the link points). With DENO_COMPAT set, Deno probes for files
  // (sloppy imports): a file created later may take an import over, so no
  // manifest can stand for the graph.
  const configDir = url.protocol === "file:" ? realDir(childCwd(url)) : undefined;
  const manifestFile = configDir !== undefined && Deno.env.get("DENO_COMPAT") === undefined
    ? `${await manifestName(url, allowImport, configDir)}.json`
    : undefined;
  if (manifestFile !== undefined) {
    const key = await confirmManifest(`${dir}/graphs/${manifestFile}`);
    const cached = key === undefined ? undefined : readCache(dir, key);
    if (cached !== undefined) return cached;
  }
  const graph = await listGraph(
    url,
    allowImport,
    manifestFile === undefined ? undefined : configDir,
    onFetched,
  );
  const cached = graph === undefined ? undefined : readCache(dir, graph.key);
  const described = withGraph(cached ?? await load(graph), graph);
  if (graph === undefined) return described;
  // A file edited while the child loaded the script may or may not be in
  // the description: keep nothing unless every file is still as hashed.
  if (!await graph.unchanged()) return described;
  if (cached === undefined) await writeJson(dir, `${graph.key}.json`, described);
  if (manifestFile !== undefined && (graph.manifest !== undefined || graph.lockWritten)) {
    // A module edited between `deno info` and the read that hashed it (to
    // the same size) would leave a manifest that names the files of one
    // graph under the key of another: list the graph once more (the
    // lockfile `deno info` may have written included), and keep that
    // listing's manifest only when it lists the same graph and its files
    // are still as hashed.
    const again = await listGraph(url, allowImport, configDir);
    const manifest = again?.key === graph.key ? again.manifest : undefined;
    const now = manifest === undefined ? undefined : readFiles(manifest.files);
    if (now !== undefined && await filesDigest(manifest!.files, now) === manifest!.digest) {
      await writeJson(`${dir}/graphs`, manifestFile, manifest);
    }
  }
  return described;
}

/**
 * The graph of a script, for a load that does not go through the cache:
 * listed (and fetched) all the same, since the child can neither read files
 * nor fetch modules.
 *
 * @param url The script's URL.
 * @param allowImport Extra hosts it may import from.
 * @param onFetched Told what was downloaded.
 * @returns The graph, or undefined when it cannot be listed (the child then explains why).
 */
export async function scriptGraph(
  url: URL,
  allowImport: string[],
  onFetched: OnFetched = () => {},
): Promise<ListedGraph | undefined> {
  return await listGraph(url, allowImport, undefined, onFetched);
}

/** The description with the graph weft listed (never one the script's code reported). */
function withGraph(
  described: ScriptDescription,
  graph: ListedGraph | undefined,
): ScriptDescription {
  const { graph: _ignored, ...rest } = described;
  return graph === undefined ? rest : { ...rest, graph: graph.summary };
}

/** One module of `deno info --json`. */
interface InfoModule {
  specifier: string;
  local?: string;
  size?: number;
  error?: string;
  mediaType?: string;
  dependencies?: {
    specifier: string;
    code?: { specifier?: string; error?: string };
    type?: { error?: string };
    assertionType?: string;
  }[];
}

/** What a manifest holds: the files that decided a graph, and the key of its description. */
interface Manifest {
  /** The description's key. */
  key: string;
  /** The files, in order: local modules, then configuration files (present or not). */
  files: string[];
  /** {@linkcode filesDigest} of the files when the graph was listed. */
  digest: string;
}

/** A script's module graph, as {@linkcode listGraph} saw it. */
interface Graph {
  /**
   * The key of the description: every module's specifier with its size
   * (local files: their content's hash), the npm packages, and the Deno and
   * weft versions.
   */
  key: string;
  /** Whether the local modules, and the configuration but the lockfile, are still as they were read. */
  unchanged(): Promise<boolean>;
  /** The manifest, when one may stand in for `deno info` (see {@linkcode listGraph}). */
  manifest?: Manifest;
  /** Whether `deno info` wrote a lockfile: listed again, the graph may get a manifest. */
  lockWritten?: boolean;
  /** The source of the script's modules (weft's aside), for the child to read flows from. */
  sources: ModuleSources;
  /** The graph as the processes that run the script may load it. */
  summary: ModuleGraph;
}

/** What loading a script is given: the graph, when it could be listed. */
export interface ListedGraph {
  /** The source of the script's modules, for flows' skeletons. */
  sources: ModuleSources;
  /** The graph as the loading child may load it. */
  summary: ModuleGraph;
}

/** What the fetch step said: the modules it downloaded (printed by the caller). */
export type OnFetched = (downloads: string[]) => void;

/**
 * Lists the script's module graph with `deno info`, which runs nothing and
 * resolves as the loading child will (same flags, same working directory,
 * hence the same deno.json). Local files are keyed on their content — not
 * their modification time: an edit within the same millisecond counts — so
 * any change to any module gives a new key.
 *
 * The graph also gets a manifest — every local module, and every deno.json,
 * deno.jsonc, package.json and deno.lock of the script's directory and its
 * ancestors (present or not) — when those files alone decide it: then
 * `deno info` would list the same graph as long as their contents are the
 * same, since each module's imports are in its text and bare specifiers
 * resolve through the configuration. That holds only when:
 *   - every module is a local file outside node_modules, a `node:` or
 *     `data:` module, or an npm, JSR or remote module that the lockfile of
 *     the nearest deno.json pins (without a lockfile a version range may
 *     resolve to a newer release, and a remote module may be fetched anew);
 *   - every import resolved (a file created later could resolve one);
 *   - no package.json is involved (Node resolution reads node_modules), and
 *     no configuration reaches for files outside the manifest or changes
 *     how files resolve (see {@linkcode UNCONFIRMABLE}).
 * Otherwise every load lists the graph again.
 *
 * @param url The script.
 * @param allowImport Extra import hosts.
 * @param configDir Where Deno looks for the configuration (see {@linkcode realDir}); undefined: no manifest.
 * @returns The key and, when it may stand in for `deno info`, the manifest; undefined when the graph cannot be listed (the child then explains why).
 */
async function listGraph(
  url: URL,
  allowImport: string[],
  configDir?: string,
  onFetched: OnFetched = () => {},
): Promise<Graph | undefined> {
  const cwd = childCwd(url);
  // Read before `deno info` runs, and compared again once the child has
  // compiled: unchanged then, they are what both saw.
  const config = configDir === undefined ? undefined : configFiles(configDir);
  const module = await scriptModule(url);
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", ...importFlags(url, allowImport), module],
      cwd,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch {
    return undefined;
  }
  // The fetch step, in the open: what it downloaded is printed.
  const downloads = downloadsOf(new TextDecoder().decode(out.stderr));
  if (downloads.length > 0) onFetched(downloads);
  if (!out.success) return undefined;
  let info: { modules?: InfoModule[]; npmPackages?: Record<string, unknown> };
  try {
    info = JSON.parse(new TextDecoder().decode(out.stdout));
  } catch {
    return undefined;
  }
  const modules = [...(info.modules ?? [])].sort((a, b) => (a.specifier < b.specifier ? -1 : 1));
  if (modules.some((m) => m.error !== undefined)) return undefined;
  const local = modules.flatMap((m) =>
    m.local !== undefined && m.specifier.startsWith("file:") ? [m.local] : []
  );
  const contents = readFiles(local);
  if (contents === undefined || contents.includes(null)) return undefined;
  const hashes = new Map<string, string>();
  for (const [i, path] of local.entries()) hashes.set(path, await sha256(contents[i]!));
  const npmPackages = Object.keys(info.npmPackages ?? {}).sort();
  const parts = [
    `weft ${WEFT_VERSION} description ${DESCRIPTION_VERSION}`,
    `deno ${Deno.version.deno}`,
    `imports ${allowImport.join(",")}`,
    ...modules.map((m) =>
      `${m.specifier} ${
        m.local !== undefined && m.specifier.startsWith("file:")
          ? hashes.get(m.local)
          : m.size ?? "?"
      }`
    ),
    ...npmPackages,
  ];
  const key = await sha256(new TextEncoder().encode(parts.join("\n")));
  const localDigest = await filesDigest(local, contents);
  // The lockfile aside: `deno info` writes it.
  const before = (paths: string[]) =>
    paths.map((path) => config!.contents[config!.paths.indexOf(path)]!);
  const settings = config?.paths.filter((path) => !path.endsWith("/deno.lock")) ?? [];
  const settingsDigest = await filesDigest(settings, before(settings));
  const locks = config?.paths.filter((path) => path.endsWith("/deno.lock")) ?? [];
  const locksNow = readFiles(locks);
  const decoder = new TextDecoder();
  const graph: Graph = {
    key,
    summary: summarizeGraph(url, modules, npmPackages),
    sources: moduleSources(modules, (path) => {
      const i = local.indexOf(path);
      return i >= 0 ? decoder.decode(contents[i]!) : readText(path);
    }),
    unchanged: async () => {
      const now = readFiles(local);
      if (now === undefined || await filesDigest(local, now) !== localDigest) return false;
      const settingsNow = readFiles(settings);
      return settingsNow !== undefined &&
        await filesDigest(settings, settingsNow) === settingsDigest;
    },
    lockWritten: locksNow === undefined ||
      await filesDigest(locks, locksNow) !== await filesDigest(locks, before(locks)),
  };

  if (url.protocol !== "file:" || config === undefined) return graph;
  const remote: string[] = [];
  for (const m of modules) {
    const unresolved = m.dependencies?.some((d) =>
      d.code?.error !== undefined || d.type?.error !== undefined
    );
    if (unresolved) return graph;
    if (m.local !== undefined && m.specifier.startsWith("file:")) {
      if (m.local.includes("/node_modules/")) return graph;
      // The manifest must describe the graph that was listed: a module
      // edited between `deno info` and the read above (a new import, say)
      // nearly always shows in its size.
      const read = contents[local.indexOf(m.local)]!;
      if (m.size !== undefined && m.size !== read.length) return graph;
    } else if (/^(https?|npm):/.test(m.specifier)) {
      if (!m.specifier.startsWith("npm:")) remote.push(m.specifier);
    } else if (!/^(node|data):/.test(m.specifier)) return graph;
  }
  if ((remote.length > 0 || npmPackages.length > 0) && !pinned(config.lock, npmPackages, remote)) {
    return graph;
  }
  const files = [...local, ...config.paths];
  graph.manifest = {
    key,
    files,
    digest: await filesDigest(files, [...contents, ...config.contents]),
  };
  return graph;
}

const CONFIG_FILES = ["deno.json", "deno.jsonc", "package.json", "deno.lock"];

/**
 * Configuration that makes the graph depend on more than the files in the
 * manifest: other files that resolve imports (an import map file, a
 * workspace's members, links, patches), lockfile settings, sloppy imports,
 * and modules kept in the project where they can be edited (vendor,
 * node_modules). A file read strictly (see `parseStrictJsonc`; JSON escapes
 * are then read as Deno reads them) is judged by its keys, so that a task
 * that mentions `--lock` does not cost every run a `deno info`; a file only
 * Deno's looser reader takes (unquoted or single-quoted keys) is judged by
 * the names as words anywhere, and any `\u` escape counts (a false alarm
 * only costs a `deno info`).
 */
const UNCONFIRMABLE_KEYS = [
  "importMap",
  "workspace",
  "links",
  "patch",
  "lock",
  "vendor",
  "nodeModulesDir",
];
const UNCONFIRMABLE = new RegExp(`\\b(${UNCONFIRMABLE_KEYS.join("|")})\\b|sloppy|\\\\u`);

/** Whether a deno.json's text may make the graph depend on more than the manifest's files. */
function unconfirmable(text: string): boolean {
  const config = parseStrictJsonc(text);
  if (typeof config !== "object" || config === null || Array.isArray(config)) {
    return UNCONFIRMABLE.test(text);
  }
  if (Object.keys(config).some((key) => UNCONFIRMABLE_KEYS.includes(key))) return true;
  const { tasks: _tasks, ...rest } = config as Record<string, unknown>;
  return JSON.stringify(rest).includes("sloppy");
}

/**
 * The configuration files Deno may read for a process started in `dir`:
 * those of `dir` and of every ancestor, and the lockfile of the nearest
 * deno.json.
 *
 * @param dir The working directory.
 * @returns The paths and contents (null: absent), and the lockfile's text; undefined when they cannot stand for the resolution.
 */
function configFiles(
  dir: string,
): { paths: string[]; contents: (Uint8Array<ArrayBuffer> | null)[]; lock?: string } | undefined {
  const paths: string[] = [];
  for (let d = dir.replace(/\/+$/, "");; d = d.slice(0, d.lastIndexOf("/"))) {
    for (const name of CONFIG_FILES) paths.push(`${d}/${name}`);
    if (d === "") break;
  }
  const contents = readFiles(paths);
  if (contents === undefined) return undefined;
  const decoder = new TextDecoder();
  let lock: string | undefined;
  let nearest = true;
  for (const [i, path] of paths.entries()) {
    const bytes = contents[i];
    if (bytes === null || bytes === undefined || path.endsWith("/deno.lock")) continue;
    if (path.endsWith("/package.json")) return undefined;
    if (unconfirmable(decoder.decode(bytes))) return undefined;
    if (nearest) {
      // The nearest deno.json (or deno.jsonc) is the one Deno uses; its lockfile is beside it.
      nearest = false;
      const lockBytes =
        contents[paths.indexOf(`${path.slice(0, path.lastIndexOf("/"))}/deno.lock`)];
      if (lockBytes) lock = decoder.decode(lockBytes);
    }
  }
  return lock === undefined ? { paths, contents } : { paths, contents, lock };
}

/**
 * Whether a lockfile pins every npm package and remote module of a graph.
 *
 * @param lockText The lockfile, if there is one.
 * @param npmPackages The graph's npm packages (`name@version`).
 * @param remote The graph's remote module URLs.
 * @returns True when each is recorded in the lockfile.
 */
function pinned(lockText: string | undefined, npmPackages: string[], remote: string[]): boolean {
  if (lockText === undefined) return false;
  let lock: { npm?: object; jsr?: object; remote?: object };
  try {
    lock = JSON.parse(lockText);
  } catch {
    return false;
  }
  const has = (o: object | undefined, k: string) => o !== undefined && Object.hasOwn(o, k);
  return npmPackages.every((id) => has(lock.npm, id)) &&
    remote.every((specifier) => {
      // A JSR module is pinned by its package's entry; any other URL by its own.
      const jsr = /^https:\/\/jsr\.io\/(@[^/]+\/[^/]+)\/([^/]+)\//.exec(specifier);
      return jsr !== null ? has(lock.jsr, `${jsr[1]}@${jsr[2]}`) : has(lock.remote, specifier);
    });
}

/** The name of a script's manifest: its URL, and what else changes how it loads. */
async function manifestName(url: URL, allowImport: string[], configDir: string): Promise<string> {
  const text = [
    `weft ${WEFT_VERSION} description ${DESCRIPTION_VERSION}`,
    `deno ${Deno.version.deno}`,
    `imports ${allowImport.join(",")}`,
    `config ${configDir}`,
    url.href,
  ].join("\n");
  return await sha256(new TextEncoder().encode(text));
}

/**
 * Checks a manifest against the files as they are now.
 *
 * @param path The manifest.
 * @returns The description's key when every file is as it was, else undefined.
 */
async function confirmManifest(path: string): Promise<string | undefined> {
  let manifest: Partial<Manifest>;
  try {
    manifest = JSON.parse(Deno.readTextFileSync(path));
  } catch {
    return undefined;
  }
  const { key, files, digest } = manifest;
  if (
    typeof key !== "string" || typeof digest !== "string" || !Array.isArray(files) ||
    !files.every((f) => typeof f === "string")
  ) {
    return undefined;
  }
  const contents = readFiles(files);
  return contents !== undefined && await filesDigest(files, contents) === digest ? key : undefined;
}

/**
 * Reads files, synchronously: a few dozen small reads take about a
 * millisecond that way, several times less than as many pending operations.
 *
 * @param paths The files.
 * @returns Their contents, null for a file that does not exist; undefined when one cannot be read.
 */
function readFiles(paths: readonly string[]): (Uint8Array<ArrayBuffer> | null)[] | undefined {
  const contents: (Uint8Array<ArrayBuffer> | null)[] = [];
  for (const path of paths) {
    try {
      contents.push(Deno.readFileSync(path));
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) return undefined;
      contents.push(null);
    }
  }
  return contents;
}

/**
 * One hash of many files: each one's path and length (or absence), then its bytes.
 *
 * @param paths The files.
 * @param contents Their contents (null: absent).
 * @returns The SHA-256, in hex.
 */
async function filesDigest(
  paths: readonly string[],
  contents: readonly (Uint8Array<ArrayBuffer> | null)[],
): Promise<string> {
  const encoder = new TextEncoder();
  const parts: Uint8Array[] = [];
  for (const [i, path] of paths.entries()) {
    const bytes = contents[i] ?? null;
    parts.push(
      encoder.encode(`${JSON.stringify(path)} ${bytes === null ? "absent" : bytes.length}\n`),
    );
    if (bytes !== null) parts.push(bytes);
  }
  const all = new Uint8Array(parts.reduce((n, part) => n + part.length, 0));
  let at = 0;
  for (const part of parts) {
    all.set(part, at);
    at += part.length;
  }
  return await sha256(all);
}

async function sha256(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function readCache(dir: string, key: string): ScriptDescription | undefined {
  try {
    const parsed = JSON.parse(Deno.readTextFileSync(`${dir}/${key}.json`)) as ScriptDescription;
    return parsed.dag?.format === "weft.dag/v1" && parsed.version === DESCRIPTION_VERSION
      ? parsed
      : undefined;
  } catch {
    return undefined;
  }
}

async function writeJson(dir: string, name: string, value: unknown): Promise<void> {
  try {
    await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
    // Write then rename, so that a reader never sees half a file.
    const tmp = `${dir}/${name}.${crypto.randomUUID()}.tmp`;
    await Deno.writeTextFile(tmp, JSON.stringify(value), { mode: 0o600 });
    await Deno.rename(tmp, `${dir}/${name}`);
  } catch {
    // A cache that cannot be written only costs time.
  }
}
