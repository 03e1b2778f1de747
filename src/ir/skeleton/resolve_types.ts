/**
 * What the walker asks about names it cannot see inside a flow: what a
 * module-level, imported or global name (with a static property path, as in
 * `ns.add` or `Math.max`) stands for. Answered by `resolve.ts` from the
 * module's source and the loaded module's values.
 *
 * @module
 */

import type { UserEntityDef } from "../../define/defs.ts";
import type { Node } from "./ast.ts";
import type { ParsedModule } from "./parse.ts";
import type { ModuleScope } from "./module_scope.ts";

/** weft's functions that shape calls without being entities or waits. */
export type ControlName = "mapTask" | "after";

/** What a name stands for. */
export type Target =
  /** A task, workflow, flow or launch plan: a call of it is a node. */
  | { kind: "entity"; def: UserEntityDef }
  /** weft's `wait`, `all` or `race`. */
  | { kind: "wait"; mode: "wait" | "all" | "race" | "sleep" | "signal" }
  /** weft's `mapTask` (a call of its result is a call of the mapped entity) or `after` (gives its first argument). */
  | { kind: "control"; name: ControlName }
  /** A function of the flow's module, whose body can be followed. */
  | { kind: "helper"; fn: Node; name: string }
  /** A function that cannot reach the script's entities but through its arguments (a built-in, a package's). */
  | { kind: "plain" }
  /** A value that is not a function (a number, a string, data). */
  | { kind: "data" }
  /** Something whose calls cannot be known. */
  | { kind: "unknown"; reason: string };

/** One module as the walker sees it. */
export interface ModuleInfo {
  /** The module's URL. */
  url: string;
  /** Its program. */
  parsed: ParsedModule;
  /** Its top level. */
  scope: ModuleScope;
  /**
   * What a name that is not local to the flow stands for.
   *
   * @param name A module-level, imported or global name.
   * @param path Static property names after it (`ns.add` → `["add"]`).
   * @returns The target.
   */
  resolve(name: string, path: readonly string[]): Target;
}
