/**
 * The shape of a checked workflow spec (`weft.workflow/v1`, see spec.ts):
 * what the parent process reads from the document and hands, as JSON, to
 * the module that builds it.
 *
 * @module
 */

/** A task (or workflow, flow, launch plan) named by a spec: `./module.ts#exportName`. */
export interface SpecEntityRef {
  /** The module, as written (relative to the spec's file). */
  readonly module: string;
  /** The export's name. */
  readonly export: string;
  /** The line. */
  readonly line: number;
}

/** A value in a spec: a reference (`$inputs.x`, `$node`, `$node.output`), a constant, or a list or mapping of these. */
export type SpecValue =
  | { readonly input: string; readonly line: number }
  | { readonly node: string; readonly output?: string; readonly line: number }
  | { readonly const: unknown }
  | { readonly array: readonly SpecValue[] }
  | { readonly object: readonly (readonly [string, SpecValue])[] };

/** The test of an `if` node. */
export type SpecTest =
  | {
    readonly op: "eq" | "ne" | "gt" | "ge" | "lt" | "le";
    readonly args: readonly [SpecValue, SpecValue];
    readonly line: number;
  }
  | { readonly op: "and" | "or"; readonly args: readonly SpecTest[]; readonly line: number }
  | { readonly op: "not"; readonly args: readonly [SpecTest]; readonly line: number }
  | { readonly op: "truthy"; readonly args: readonly [SpecValue]; readonly line: number };

/** A node that calls an entity. */
export interface SpecCall {
  readonly kind: "call";
  /** Its id (the key in `nodes`). */
  readonly id: string;
  readonly line: number;
  /** What it calls. */
  readonly entity: SpecEntityRef;
  /** Its inputs by name, with the line of each key. */
  readonly with: readonly {
    readonly name: string;
    readonly line: number;
    readonly value: SpecValue;
  }[];
  /** The line of `with`. */
  readonly withLine: number;
  /** Nodes it starts after. */
  readonly after: readonly { readonly node: string; readonly line: number }[];
  /** `.with({…})` overrides: retries ("unlimited" for no limit), timeout, cache, queue. */
  readonly overrides: {
    readonly retries?: number | "unlimited";
    readonly timeout?: string | number;
    readonly cache?: boolean;
    readonly queue?: string;
    readonly line: number;
  } | undefined;
  /** When the node maps its entity over lists. */
  readonly map: {
    readonly over?: readonly string[];
    readonly concurrency?: number;
    readonly minSuccessRatio?: number;
    readonly line: number;
  } | undefined;
}

/** A branch of an `if` node: its nodes and its result. */
export interface SpecBranch {
  readonly line: number;
  readonly nodes: readonly SpecNode[];
  readonly result: SpecValue | undefined;
}

/** A conditional node. */
export interface SpecIf {
  readonly kind: "if";
  readonly id: string;
  readonly line: number;
  readonly test: SpecTest;
  readonly then: SpecBranch;
  readonly else: SpecBranch | undefined;
  readonly after: readonly { readonly node: string; readonly line: number }[];
}

/** A node of a spec. */
export type SpecNode = SpecCall | SpecIf;

/** A workflow spec, checked and with its nodes in an order the builder can add them. */
export interface WorkflowSpec {
  /** The file's name, in messages. */
  readonly file: string;
  readonly name: string;
  /** The line of `name`. */
  readonly line: number;
  readonly inputs: readonly {
    readonly name: string;
    readonly line: number;
    readonly type?: string;
    readonly schema?: Record<string, unknown>;
    readonly default?: { readonly value: unknown };
  }[];
  /** The nodes, ordered so that each comes after those it uses. */
  readonly nodes: readonly SpecNode[];
  readonly outputs: readonly {
    readonly name: string;
    readonly line: number;
    readonly value: SpecValue;
  }[];
  readonly onFailure?: SpecEntityRef;
  readonly failurePolicy?: "fail-fast" | "finish-running";
  readonly timeout?: string | number;
  /** The line of the first control key, for their errors. */
  readonly controlLine: number;
  /** The modules the spec names, each once, in order. */
  readonly modules: readonly string[];
}
