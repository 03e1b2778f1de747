/**
 * The skeleton walker's state and machinery: the zone lists it writes, the
 * scopes of the flow and of the helpers it follows, and walking a
 * function's body (the flow's, a helper's, a callback's). Expressions are in
 * `walk_expr.ts`, statements in `walk.ts`.
 *
 * @module
 */

import type { EntityDef } from "../../define/defs.ts";
import type { SkeletonZone } from "../../core/dag_format.ts";
import { child, children, identName, type Node, patternNames } from "./ast.ts";
import type { ModuleInfo } from "./resolve_types.ts";
import { type Handles, LoopFrames, type Value, values, type Variable } from "./values.ts";

/** A variable declared inside the flow (or a helper it calls). */
export interface Local extends Variable {
  name: string;
  /** A function it is known to hold for good (a `function` or a `const` arrow), and where. */
  fn?: { node: Node; scope: Scope };
}

/** A block or function scope. */
export interface Scope {
  vars: Map<string, Local>;
  /** Every variable declared in it (a name declared again, in a loop's next round, is a new one). */
  declared: Local[];
  parent: Scope | undefined;
}

/** What a walk found. */
export interface Walked {
  /** The zones, with call entities as definitions. */
  zones: SkeletonZone[];
  /** The entities called, with the key of each call zone. */
  calls: Map<string, EntityDef>;
  /** Whether some zone is unknown. */
  unknown: boolean;
}

/** How deep helper calls are followed. */
const HELPER_DEPTH = 4;

/** The walker's state, scopes and functions; `expr` and `stmt` come from the classes above it. */
export abstract class WalkerBase {
  list: SkeletonZone[] = [];
  env = values.env();
  scope: Scope = { vars: new Map(), declared: [], parent: undefined };
  dry = 0;
  path = "";
  helpers: Node[] = [];
  frames = new LoopFrames();
  returns: Value[] | undefined;
  calls = new Map<string, EntityDef>();
  unknown = false;
  lists = new WeakMap<Handles, string[]>();
  callNumbers = new Map<string, number>();
  callKeys: string[] = [];
  readonly module: ModuleInfo;

  constructor(module: ModuleInfo) {
    this.module = module;
  }

  // ---- output -------------------------------------------------------------

  /**
   * Whether zones are being written: not in a dry run (a loop's rounds
   * walked for what they do to the variables), whose zones are dropped. The
   * zones' contents never change the variables, so a dry run builds none.
   */
  get writing(): boolean {
    return this.dry === 0;
  }

  emit(zone: SkeletonZone): void {
    if (this.dry > 0) return;
    if (zone.kind === "unknown") this.unknown = true;
    this.list.push(zone);
  }

  collect(fn: () => void): SkeletonZone[] {
    const saved = this.list;
    this.list = [];
    try {
      fn();
      return this.list;
    } finally {
      this.list = saved;
    }
  }

  /** Runs `fn` only for what it does to the variables: its zones are dropped. */
  dryRun(fn: () => void): void {
    this.dry++;
    try {
      this.collect(fn);
    } finally {
      this.dry--;
    }
  }

  line(node: Node): number {
    return this.module.parsed.lineOf(node);
  }

  text(node: Node, max = Infinity): string {
    const t = this.module.parsed.code.slice(node.start, node.end).replace(/\s+/g, " ").trim();
    return t.length > max ? `${t.slice(0, max - 1)}…` : t;
  }

  /**
   * The handle of a call, by its key: calls are numbered in the order first
   * met, for the bit sets of values.ts.
   */
  handleOf(key: string): Value {
    let call = this.callNumbers.get(key);
    if (call === undefined) {
      call = this.callKeys.length;
      this.callNumbers.set(key, call);
      this.callKeys.push(key);
    }
    return values.handle(call);
  }

  /**
   * The keys of a set of handles as a list: the same list for the same set
   * (a value that flows on unchanged gives the zones it reaches one list,
   * which extract.ts renames once).
   */
  keysOf(handles: Handles): string[] {
    let list = this.lists.get(handles);
    if (list === undefined) {
      list = values.calls(handles).map((call) => this.callKeys[call]!);
      this.lists.set(handles, list);
    }
    return list;
  }

  key(node: Node): string {
    return `${this.path}@${node.start}`;
  }

  unknownZone(node: Node, reason: string): Value {
    if (!this.writing) return values.callable;
    this.emit({
      kind: "unknown",
      source: this.text(node, 120),
      reason,
      line: this.line(node),
    });
    return values.callable;
  }

  // ---- scopes --------------------------------------------------------------

  lookup(name: string): Local | undefined {
    for (let s: Scope | undefined = this.scope; s !== undefined; s = s.parent) {
      const local = s.vars.get(name);
      if (local !== undefined) return local;
    }
    return undefined;
  }

  withScope<T>(parent: Scope | undefined, fn: () => T): T {
    const saved = this.scope;
    const scope: Scope = { vars: new Map(), declared: [], parent };
    this.scope = scope;
    try {
      return fn();
    } finally {
      this.scope = saved;
      // Its variables cannot be named any more (a function that could still
      // see them is only reachable through a variable: an unknown call).
      for (const local of scope.declared) values.retire(this.env, local);
    }
  }

  declare(name: string, fn?: Node): Local {
    const local: Local = { name };
    if (fn !== undefined) local.fn = { node: fn, scope: this.scope };
    const previous = this.scope.vars.get(name);
    if (previous !== undefined) values.retire(this.env, previous);
    this.scope.vars.set(name, local);
    this.scope.declared.push(local);
    this.frames.declared(local);
    return local;
  }

  /** Declares the block-scoped names of a statement list (and, for a function body, its `var`s). */
  hoist(statements: Node[], functionScope: boolean): void {
    for (const s of statements) {
      const decl = s.type === "ExportNamedDeclaration" ? child(s, "declaration") ?? s : s;
      if (decl.type === "FunctionDeclaration") {
        const name = identName(child(decl, "id"));
        if (name !== undefined) this.declare(name, decl);
      } else if (decl.type === "ClassDeclaration") {
        const name = identName(child(decl, "id"));
        if (name !== undefined) this.declare(name);
      } else if (decl.type === "VariableDeclaration" && decl.kind !== "var") {
        for (const d of children(decl, "declarations")) {
          for (const id of patternNames(child(d, "id"))) this.declare(id.name as string);
        }
      }
    }
    if (functionScope) {
      for (const s of statements) this.hoistVars(s);
    }
  }

  /**
   * Declares the `var`s of a statement. Only statements are looked into: a
   * declaration is a statement, so an expression holds one only inside a
   * function or class, which has its own.
   */
  hoistVars(node: Node | undefined): void {
    if (node === undefined) return;
    switch (node.type) {
      case "VariableDeclaration":
        if (node.kind !== "var") return;
        for (const d of children(node, "declarations")) {
          for (const id of patternNames(child(d, "id"))) {
            if (!this.scope.vars.has(id.name as string)) this.declare(id.name as string);
          }
        }
        return;
      case "BlockStatement":
        for (const s of children(node, "body")) this.hoistVars(s);
        return;
      case "IfStatement":
        this.hoistVars(child(node, "consequent"));
        this.hoistVars(child(node, "alternate"));
        return;
      case "ForStatement":
        this.hoistVars(child(node, "init"));
        this.hoistVars(child(node, "body"));
        return;
      case "ForInStatement":
      case "ForOfStatement":
        this.hoistVars(child(node, "left"));
        this.hoistVars(child(node, "body"));
        return;
      case "WhileStatement":
      case "DoWhileStatement":
      case "LabeledStatement":
      case "WithStatement":
        this.hoistVars(child(node, "body"));
        return;
      case "TryStatement": {
        this.hoistVars(child(node, "block"));
        const handler = child(node, "handler");
        if (handler !== undefined) this.hoistVars(child(handler, "body"));
        this.hoistVars(child(node, "finalizer"));
        return;
      }
      case "SwitchStatement":
        for (const c of children(node, "cases")) {
          for (const s of children(c, "consequent")) this.hoistVars(s);
        }
        return;
    }
  }

  /** Binds a pattern's names to a value (declared already, or declared now). */
  bind(pattern: Node | undefined, value: Value, declareNow: boolean): void {
    for (const id of patternNames(pattern)) {
      const name = id.name as string;
      const local = declareNow ? this.declare(name) : this.lookup(name);
      if (local !== undefined) this.assign(local, value, false);
    }
    // Defaults in patterns are expressions too.
    this.patternDefaults(pattern);
  }

  patternDefaults(pattern: Node | undefined): void {
    if (pattern === undefined) return;
    if (pattern.type === "AssignmentPattern") this.expr(child(pattern, "right")!);
    for (const c of [...children(pattern, "properties"), ...children(pattern, "elements")]) {
      this.patternDefaults(c.type === "Property" ? child(c, "value") : c);
    }
  }

  assign(local: Local, value: Value, merge: boolean): void {
    this.frames.assigned(local);
    this.env.set(local, merge ? values.join(this.env.get(local), value) : value);
  }

  // ---- functions ------------------------------------------------------------

  /**
   * Walks a function's body with its parameters bound to `args`.
   *
   * @returns The union of what it returns.
   */
  functionBody(
    fn: Node,
    args: Value[],
    parent: Scope | undefined,
    role: "flow" | "helper" | "callback",
  ): Value {
    return this.withScope(parent, () => {
      const params = children(fn, "params");
      params.forEach((p, i) => {
        const value = p.type === "RestElement"
          ? values.union(args.slice(i))
          : args[i] ?? values.empty;
        this.bind(p, value, true);
      });
      const body = child(fn, "body")!;
      const savedReturns = this.returns;
      this.returns = [];
      try {
        if (body.type !== "BlockStatement") return this.expr(body);
        const statements = children(body, "body");
        this.hoist(statements, true);
        statements.forEach((s, i) => {
          const last = i === statements.length - 1;
          if (role !== "flow" && last && s.type === "ReturnStatement") {
            const arg = child(s, "argument");
            this.returns!.push(arg === undefined ? values.empty : this.expr(arg));
          } else this.stmt(s);
        });
        return values.union(this.returns);
      } finally {
        this.returns = savedReturns;
      }
    });
  }

  /** Follows a call of a helper function: its zones, as a `helper` zone. */
  inline(call: Node, fn: Node, name: string, scope: Scope | undefined, args: Value[]): Value {
    if (this.helpers.includes(fn)) {
      return this.unknownZone(call, `${name} calls itself: how often cannot be known`);
    }
    if (this.helpers.length >= HELPER_DEPTH) {
      return this.unknownZone(call, `helpers nested deeper than ${HELPER_DEPTH} are not followed`);
    }
    const savedPath = this.path;
    const savedFrames = this.frames;
    this.path = `${this.path}${call.start}>`;
    this.frames = new LoopFrames();
    this.helpers.push(fn);
    let result = values.empty;
    try {
      const body = this.collect(() => {
        result = this.functionBody(fn, args, scope, "helper");
      });
      if (body.length > 0 && this.writing) {
        this.emit({ kind: "helper", name, body, line: this.line(call) });
      }
    } finally {
      this.helpers.pop();
      this.path = savedPath;
      this.frames = savedFrames;
    }
    return result;
  }

  /** A callback passed to a function that may call it any number of times: an `each` loop. */
  callback(call: Node, calleeText: string, fn: Node, scope: Scope | undefined, arg: Value): Value {
    const savedPath = this.path;
    const savedFrames = this.frames;
    this.path = `${this.path}${fn.start}>`;
    this.frames = new LoopFrames();
    let result = values.empty;
    try {
      const body = this.collect(() => {
        result = this.functionBody(fn, children(fn, "params").map(() => arg), scope, "callback");
      });
      if (body.length > 0 && this.writing) {
        this.emit({
          kind: "loop",
          loop: "each",
          condition: calleeText,
          test: [],
          waits: [],
          carries: [],
          body,
          line: this.line(call),
        });
      }
    } finally {
      this.path = savedPath;
      this.frames = savedFrames;
    }
    return result;
  }

  /** Walks a statement. */
  abstract stmt(node: Node): void;

  /** Evaluates an expression: its zones go to the current list. */
  abstract expr(node: Node): Value;
}
