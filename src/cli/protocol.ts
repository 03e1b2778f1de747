/**
 * What the CLI and the processes it starts say to each other: the marked
 * lines on stdout, and the shapes of their messages. A module with no weft
 * imports, so that the parent side stays light.
 *
 * @module
 */

import type { EntityKind } from "../define/defs.ts";
import type { Permissions } from "../define/permissions.ts";
import type { RunOwner } from "../store/mod.ts";
import type { StoreReply, StoreRequest } from "../store/remote.ts";
import type { DagDocument } from "../core/dag_format.ts";
import type { Reach } from "../ir/reach.ts";

/** The prefix of the protocol line, apart from anything the script prints. */
export const MARKER = "\u001eweft-describe:";

/** One exported entity. */
export interface ExportInfo {
  /** The export name (`default` for a default export). */
  export: string;
  /** The entity kind. */
  kind: EntityKind;
  /** The entity name. */
  name: string;
}

/** What the child reports for a script that loaded. */
export interface ScriptDescription {
  /** The script's URL. */
  url: string;
  /** The exported entities, sorted by export name. */
  exports: ExportInfo[];
  /** The IR of every exported entity and what it references. */
  dag: DagDocument;
  /** The names of every task defined while loading (exported or not). */
  moduleTasks: string[];
  /**
   * What each exported entity reaches (`reachOf`: its tasks, the flows whose
   * skeleton has an unknown call, warnings about `tasks:` options), by
   * entity name, so that `weft run` plans permissions without loading the
   * IR module and the engine behind it.
   */
  reach: Record<string, Reach>;
  /** {@linkcode DESCRIPTION_VERSION} of the weft that described it: older cached descriptions are not used. */
  version: number;
  /**
   * The module graph the script was loaded from, as weft listed it (not as
   * the script's code said): set by the parent after the child reported.
   */
  graph?: ModuleGraph;
}

/** A script's module graph, as `weft compile` fetched it (see `cli/module_graph.ts`). */
export interface ModuleGraph {
  /** Every local module file (absolute paths), weft's own included. */
  files: string[];
  /** The hosts remote modules come from, with ports (`esm.sh:443`). */
  hosts: string[];
  /** The npm packages (`name@version`). */
  npm: string[];
  /** Local files imported from outside the script's project, and how (`module`, `json`, `text`, `bytes`). */
  outside: { path: string; as: string }[];
}

/**
 * The version of {@linkcode ScriptDescription}: part of the compile cache's
 * keys, and checked when a cached description is read, so that a
 * description written before a change (2: flows' skeletons, `reach`; 3:
 * loops' labels; 4: the module graph) is never reused.
 */
export const DESCRIPTION_VERSION = 4;

/**
 * The source of a script's modules by URL, each with its imports resolved
 * (specifier → URL): what the compile child reads flows' skeletons from.
 */
export type ModuleSources = Record<string, {
  text: string;
  imports: Record<string, string>;
  /** Its TypeScript types stripped by the parent (see src/ir/skeleton/strip.ts). */
  stripped?: { code: string; mappings?: string } | { error: string };
}>;

/** What the child reports for a script that did not load. */
export interface LoadFailure {
  /** The error's name. */
  name: string;
  /** The error's message. */
  message: string;
  /** The stack, for --verbose. */
  stack?: string;
}

/** The prefix of protocol frames, apart from anything the script prints. */
export const PROTOCOL = "\u001eweft:";

/** The prefix of a frame: {@linkcode PROTOCOL}, then the run's token, then `:` (last part) or `+`. */
export const FRAME = PROTOCOL;

/** The longest frame, in bytes: pipes write up to 4,096 bytes at once, whole. */
export const FRAME_MAX = 4000;

/** Where a run's tasks run. */
export type RunMode = "tasks" | "shared";

/** What the parent tells the child to do (the first line on its stdin). */
export interface ChildSpec {
  /** The script's URL (a workflow spec's own path: what the run records). */
  url: string;
  /** The module that builds a workflow spec's workflow (see `spec_module.ts`), which Workers import. */
  module?: string;
  /** The export name of the entity to run. */
  exportName: string;
  /** The inputs, as tagged JSON (see `toJsonTree`). */
  inputs: Record<string, unknown>;
  /** The run id (given, or made by the parent). */
  runId: string;
  /** The parent's claim on the run (see `store/ownership.ts`): the child runs under it. */
  owner: RunOwner;
  /** Marks this run's protocol frames: made by the parent, known only to the thread that writes them. */
  token: string;
  /** Whether the store keeps the run across a crash (not `memory`): then flushes wait for the parent. */
  durable: boolean;
  /** The concurrency limit, if given. */
  concurrency?: number;
  /** How deep workflows and flows may call each other, if given. */
  maxDepth?: number;
  /** Whether to use cached results. */
  cache: boolean;
  /** `all`: every event (for --json); `progress`: snapshots for people. */
  events: "all" | "progress";
  /** Whether snapshots list finished tasks. */
  finishedLines: boolean;
  /** Check the code against the recorded run `runId` instead of running (`weft replay`). */
  replay?: boolean;
  /** Suspend the run when it only waits, if its next wake-up is this far off (`run`'s `suspend`). */
  suspend?: boolean | number;
  /**
   * `tasks` (the default): the engine runs in a Worker with no permission,
   * each task that declares some in a Worker holding exactly its own;
   * `shared` (`--no-isolate`): everything in the process, which holds the union.
   */
  mode: RunMode;
  /** For `tasks`: each task's own grant, by name (paths resolved). */
  perTask: Record<string, Permissions>;
  /** Read access every Worker needs (the module files). */
  moduleRead: string[];
  /** Hosts every Worker may import from (the module graph's). */
  importHosts: string[];
}

/** What the parent sends after the spec, one JSON line each. */
export type ParentMessage =
  | { t: "reply"; id: number; m: StoreReply }
  | { t: "cancel" }
  | { t: "wake" };

/** Messages the child sends. */
export type ChildMessage =
  | { t: "event"; e: unknown }
  | { t: "progress"; s: unknown }
  | {
    t: "result";
    runId: string;
    status: string;
    outputs: unknown;
    errors: unknown[];
    /** The run had already succeeded: its recorded result, nothing ran. */
    fromRecord: boolean;
    /** When it ran (ms since the epoch). */
    startedAt: number;
    /** For a run left sleeping: when it wakes, and the signals it waits for. */
    wakeAt?: number;
    /** Whether this is the result of a replay check (`outputs`: its report). */
    replay?: boolean;
    waitingFor?: string[];
  }
  | { t: "error"; code: number; error: { name: string; message: string; stack?: string } }
  | { t: "store"; id?: number; m: StoreRequest };
