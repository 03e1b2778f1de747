/**
 * The skeleton walker's expressions: calls (of entities, helpers, built-ins
 * and what cannot be known), waits, conditional expressions and
 * assignments, each with the values it carries.
 *
 * @module
 */

import type { DagEntityRef, SkeletonZone } from "../../core/dag_format.ts";
import type { EntityDef } from "../../define/defs.ts";
import { mappedEntity } from "../../define/map.ts";
import { baseOf } from "../../define/overrides.ts";
import { child, children, childrenOf, isFunction, type Node, patternNames, unwrap } from "./ast.ts";
import type { Target } from "./resolve_types.ts";
import { type Value, values } from "./values.ts";
import { type Local, WalkerBase } from "./walk_state.ts";

/** Expressions: see the module doc. */
export abstract class ExpressionWalker extends WalkerBase {
  /** Evaluates a condition: its zones go where they run; returns what it waits on. */
  condition(test: Node): string[] {
    const zones = this.collect(() => this.expr(test));
    for (const z of zones) this.emit(z);
    return waitsOf(zones);
  }

  /**
   * A two-way branch (`if`, `?:`): both arms walked from the state before
   * them, the states joined after, and a branch zone when `always` or when an
   * arm has zones.
   */
  branch(
    node: Node,
    test: Node,
    thenArm: () => void,
    elseArm: (() => void) | undefined,
    always: boolean,
  ): void {
    const waits = this.condition(test);
    const entry = values.copyEnv(this.env);
    const then = this.collect(thenArm);
    const afterThen = this.env;
    this.env = values.copyEnv(entry);
    const otherwise = elseArm === undefined ? [] : this.collect(elseArm);
    this.env = values.joinEnv(afterThen, this.env);
    if (this.writing && (always || then.length > 0 || otherwise.length > 0)) {
      this.emit({
        kind: "branch",
        condition: this.text(test),
        waits,
        then,
        else: otherwise,
        line: this.line(node),
      });
    }
  }

  // ---- expressions ------------------------------------------------------------

  expr(node: Node): Value {
    const n = unwrap(node);
    switch (n.type) {
      case "Identifier":
        return this.identifier(n.name as string);
      case "Literal":
      case "ThisExpression":
      case "Super":
      case "MetaProperty":
      case "TemplateElement":
        return values.empty;
      case "FunctionExpression":
      case "ArrowFunctionExpression":
      case "ClassExpression":
        return values.callable;
      case "CallExpression":
      case "NewExpression":
        return this.call(n, child(n, "callee")!, children(n, "arguments"));
      case "TaggedTemplateExpression":
        return this.call(n, child(n, "tag")!, children(child(n, "quasi")!, "expressions"));
      case "YieldExpression":
        return this.yieldExpression(n);
      case "AwaitExpression": {
        const value = this.expr(child(n, "argument")!);
        if (values.carries(value) && this.writing) {
          this.emit({ kind: "wait", mode: "await", on: this.keysOf(value.h), line: this.line(n) });
        }
        return values.data(value);
      }
      case "ConditionalExpression": {
        let a = values.empty;
        let b = values.empty;
        this.branch(
          n,
          child(n, "test")!,
          () => a = this.expr(child(n, "consequent")!),
          () => b = this.expr(child(n, "alternate")!),
          false,
        );
        return values.join(a, b);
      }
      case "LogicalExpression": {
        let left = values.empty;
        const zones = this.collect(() => left = this.expr(child(n, "left")!));
        for (const z of zones) this.emit(z);
        return this.logical(n, zones, left);
      }
      case "AssignmentExpression":
        return this.assignment(n);
      case "UpdateExpression":
        this.expr(child(n, "argument")!);
        return values.empty;
      case "MemberExpression": {
        const object = this.expr(child(n, "object")!);
        if (n.computed === true) this.expr(child(n, "property")!);
        return object;
      }
      case "SequenceExpression": {
        let last = values.empty;
        for (const e of children(n, "expressions")) last = this.expr(e);
        return last;
      }
      case "ObjectExpression": {
        const parts: Value[] = [];
        for (const p of children(n, "properties")) {
          if (p.type === "SpreadElement") parts.push(this.expr(child(p, "argument")!));
          else {
            if (p.computed === true) this.expr(child(p, "key")!);
            parts.push(this.expr(child(p, "value")!));
          }
        }
        return values.union(parts);
      }
      default:
        return values.union(childrenOf(n).map((c) => this.expr(c)));
    }
  }

  identifier(name: string): Value {
    const local = this.lookup(name);
    if (local !== undefined) {
      this.frames.read(local);
      return this.env.get(local) ?? (local.fn === undefined ? values.empty : values.callable);
    }
    const target = this.module.resolve(name, []);
    return target.kind === "data" || target.kind === "plain" ? values.empty : values.callable;
  }

  logical(n: Node, leftZones: SkeletonZone[], leftValue: Value): Value {
    const left = child(n, "left")!;
    const entry = values.copyEnv(this.env);
    let right = values.empty;
    const zones = this.collect(() => right = this.expr(child(n, "right")!));
    this.env = values.joinEnv(entry, this.env);
    if (zones.length > 0 && this.writing) {
      const op = n.operator as string;
      const l = this.text(left);
      this.emit({
        kind: "branch",
        condition: op === "&&" ? l : op === "||" ? `!(${l})` : `${l} == null`,
        waits: waitsOf(leftZones),
        then: zones,
        else: [],
        line: this.line(n),
      });
    }
    return values.join(leftValue, right);
  }

  assignment(n: Node): Value {
    const value = this.expr(child(n, "right")!);
    const left = unwrap(child(n, "left")!);
    const merge = n.operator !== "=";
    if (left.type === "MemberExpression") {
      let root = left;
      while (root.type === "MemberExpression") {
        if (root.computed === true) this.expr(child(root, "property")!);
        root = unwrap(child(root, "object")!);
      }
      const local = root.type === "Identifier" ? this.lookup(root.name as string) : undefined;
      if (local !== undefined) this.assign(local, value, true);
      return value;
    }
    for (const id of patternNames(left)) {
      const local = this.lookup(id.name as string);
      if (local !== undefined) {
        if (merge) this.frames.read(local);
        this.assign(local, value, merge || left.type !== "Identifier");
      }
    }
    this.patternDefaults(left);
    return value;
  }

  yieldExpression(n: Node): Value {
    const arg = child(n, "argument");
    if (arg === undefined) return values.empty;
    if (n.delegate === true) {
      const inner = unwrap(arg);
      if (inner.type === "CallExpression") {
        const target = this.calleeTarget(child(inner, "callee")!);
        if (target?.kind === "wait") {
          const value = values.union(children(inner, "arguments").map((a) => this.expr(a)));
          if (this.writing) {
            this.emit({
              kind: "wait",
              mode: target.mode,
              on: this.keysOf(value.h),
              line: this.line(n),
            });
          }
          return values.data(value);
        }
        if (target?.kind === "helper" || target?.kind === "local-helper") {
          return values.data(this.expr(inner));
        }
      }
      this.expr(arg);
      return this.unknownZone(n, "yield* hands control to a generator that cannot be seen");
    }
    const value = this.expr(arg);
    if (values.carries(value) && this.writing) {
      this.emit({ kind: "wait", mode: "yield", on: this.keysOf(value.h), line: this.line(n) });
    }
    return values.data(value);
  }

  /** What a callee stands for, without evaluating anything; undefined for a computed callee. */
  calleeTarget(callee: Node): Target | { kind: "local-helper"; local: Local } | {
    kind: "local";
    name: string;
  } | undefined {
    const c = unwrap(callee);
    if (c.type === "Identifier") {
      const local = this.lookup(c.name as string);
      if (local !== undefined) {
        return local.fn !== undefined
          ? { kind: "local-helper", local }
          : { kind: "local", name: local.name };
      }
      return this.module.resolve(c.name as string, []);
    }
    if (c.type === "MemberExpression") {
      const path: string[] = [];
      let root = c;
      while (root.type === "MemberExpression") {
        const prop = child(root, "property")!;
        if (root.computed === true) {
          if (prop.type !== "Literal" || typeof prop.value !== "string") return undefined;
          path.unshift(prop.value);
        } else path.unshift(prop.name as string);
        root = unwrap(child(root, "object")!);
      }
      if (root.type !== "Identifier" || this.lookup(root.name as string) !== undefined) {
        return undefined;
      }
      return this.module.resolve(root.name as string, path);
    }
    return undefined;
  }

  call(n: Node, callee: Node, args: Node[]): Value {
    const c = unwrap(callee);
    if (isFunction(c)) {
      // An IIFE: its body runs here, once.
      return this.inline(n, c, "(function)", this.scope, args.map((a) => this.expr(a)));
    }
    // `add.with({ retries: 3 })(x)`, `mapTask(square, { concurrency: 4 })(xs)` and
    // their combinations: calls of the entity (a map's node runs it per element).
    if (c.type === "CallExpression") {
      const options: Node[] = [];
      const base = this.entityCallee(c, options);
      if (base !== undefined) {
        for (const o of options) this.expr(o);
        return this.call(n, base, args);
      }
    }
    const target = this.calleeTarget(c);
    if (target === undefined) {
      // A method of a value, or a computed callee.
      const receiver = c.type === "MemberExpression" ? this.expr(child(c, "object")!) : undefined;
      if (c.type === "MemberExpression" && c.computed === true) this.expr(child(c, "property")!);
      const root = memberRoot(c);
      if (root?.type === "ThisExpression" || root?.type === "Super") {
        for (const a of args) this.expr(a);
        return this.unknownZone(n, "a call through 'this', whose methods cannot be seen");
      }
      if (receiver === undefined || receiver.f) {
        for (const a of args) this.expr(a);
        return this.unknownZone(
          n,
          receiver === undefined
            ? "the function called is computed"
            : "a call through a value that may hold an entity or function",
        );
      }
      return this.plain(n, c, args, receiver);
    }
    switch (target.kind) {
      case "local": {
        for (const a of args) this.expr(a);
        return this.unknownZone(n, `a call through the variable '${target.name}'`);
      }
      case "local-helper": {
        const argValues = args.map((a) => this.expr(a));
        const fn = target.local.fn!;
        return this.inline(n, fn.node, target.local.name, fn.scope, argValues);
      }
      case "helper": {
        const argValues = args.map((a) => this.expr(a));
        return this.inline(n, target.fn, target.name, undefined, argValues);
      }
      case "entity": {
        const argValues = args.map((a) => this.expr(a));
        const key = this.key(n);
        if (!this.writing) return this.handleOf(key);
        this.calls.set(key, target.def);
        this.emit({
          kind: "call",
          entity: callRef(target.def),
          id: key,
          from: this.keysOf(values.union(argValues).h),
          line: this.line(n),
        });
        return this.handleOf(key);
      }
      case "wait":
        // `wait(h)` makes a request; `yield*` (above) is where it waits.
        return values.data(values.union(args.map((a) => this.expr(a))));
      case "control": {
        const argValues = args.map((a) => this.expr(a));
        // `after(load(x), migrate())` gives the handle of load: migrate only orders it.
        if (target.name === "after") return argValues[0] ?? values.empty;
        // A map made in the flow and kept in a variable: calls of it cannot be followed.
        return values.callable;
      }
      case "plain":
        return this.plain(n, c, args, values.empty);
      case "data":
      case "unknown": {
        for (const a of args) this.expr(a);
        return this.unknownZone(
          n,
          target.kind === "unknown" ? target.reason : "calls a value that is not a function",
        );
      }
    }
  }

  /**
   * The name of the entity that a callee built from it calls: `add`,
   * `add.with({…})`, `mapTask(add, {…})`, `mapTask(add.with({…})).with({…})`.
   * Nothing is evaluated here: the options met on the way are added to
   * `options`, for the caller to evaluate once the whole callee is known.
   *
   * @returns The identifier or member expression that resolves to the entity; undefined for anything else.
   */
  entityCallee(callee: Node, options: Node[]): Node | undefined {
    const c = unwrap(callee);
    if (c.type === "Identifier" || c.type === "MemberExpression") {
      return this.calleeTarget(c)?.kind === "entity" ? c : undefined;
    }
    if (c.type !== "CallExpression") return undefined;
    const inner = unwrap(child(c, "callee")!);
    const [first, ...rest] = children(c, "arguments");
    if (
      inner.type === "MemberExpression" && inner.computed !== true &&
      child(inner, "property")?.name === "with"
    ) {
      const base = this.entityCallee(child(inner, "object")!, options);
      if (base !== undefined) options.push(...children(c, "arguments"));
      return base;
    }
    const made = this.calleeTarget(inner);
    if (made?.kind === "control" && made.name === "mapTask" && first !== undefined) {
      const base = this.entityCallee(first, options);
      if (base !== undefined) options.push(...rest);
      return base;
    }
    return undefined;
  }

  /**
   * A call of a function that cannot reach the script's entities except
   * through its arguments: callbacks are followed as `each` loops, and an
   * argument that may hold an entity makes the call unknown.
   */
  plain(n: Node, callee: Node, args: Node[], receiver: Value): Value {
    const calleeText = this.text(callee, 60);
    const parts: Value[] = [receiver];
    let passesCallable = false;
    const callbacks: (() => Value)[] = [];
    for (const a of args) {
      const arg = unwrap(a.type === "SpreadElement" ? child(a, "argument")! : a);
      if (isFunction(arg)) {
        callbacks.push(() => this.callback(n, calleeText, arg, this.scope, values.union(parts)));
        continue;
      }
      const target = arg.type === "Identifier" || arg.type === "MemberExpression"
        ? this.calleeTarget(arg)
        : undefined;
      if (target?.kind === "helper" || target?.kind === "local-helper") {
        const fn = target.kind === "helper" ? target.fn : target.local.fn!.node;
        const scope = target.kind === "helper" ? undefined : target.local.fn!.scope;
        callbacks.push(() => this.callback(n, calleeText, fn, scope, values.union(parts)));
        continue;
      }
      if (target?.kind === "entity") {
        passesCallable = true;
        continue;
      }
      const value = this.expr(arg);
      if (value.f) passesCallable = true;
      parts.push(value);
    }
    for (const cb of callbacks) parts.push(cb());
    // A method may keep its arguments in its object (`list.push(h)`).
    const root = memberRoot(callee);
    const local = root?.type === "Identifier" ? this.lookup(root.name as string) : undefined;
    if (local !== undefined && args.length > 0) {
      this.assign(local, values.union(parts.slice(1)), true);
    }
    if (passesCallable) {
      return this.unknownZone(
        n,
        `passes an entity or function to ${calleeText}, which may call it`,
      );
    }
    return values.data(values.union(parts));
  }
}

/** The innermost object of a member chain (`a` of `a.b.c`). */
function memberRoot(node: Node): Node | undefined {
  let n = node;
  while (n.type === "MemberExpression") n = unwrap(child(n, "object")!);
  return n === node ? undefined : n;
}

/** The handles the wait zones among `zones` wait on. */
export function waitsOf(zones: SkeletonZone[]): string[] {
  // One wait (the usual condition): its list itself, shared by the two zones.
  const waits = zones.filter((z) => z.kind === "wait" || z.kind === "helper");
  if (waits.length === 1 && waits[0]!.kind === "wait") return waits[0]!.on;
  const out = new Set<string>();
  const visit = (z: SkeletonZone) => {
    if (z.kind === "wait") z.on.forEach((k) => out.add(k));
    if (z.kind === "helper") z.body.forEach(visit);
  };
  zones.forEach(visit);
  return [...out];
}

/** How a call zone names what it calls: a map by the entity it maps. */
function callRef(def: EntityDef): DagEntityRef {
  const d = baseOf(mappedEntity(def));
  return { kind: d.kind === "flow" ? "workflow" : d.kind as DagEntityRef["kind"], name: d.name };
}
