/**
 * Walks a flow's body and writes its skeleton: the calls it makes (in the
 * order JavaScript evaluates them), its loops, branches, `switch`es, `try`
 * blocks, waits and early exits, following helper functions of its module.
 * Alongside, a small data-flow analysis tracks which calls' handles each
 * variable may hold, so that a call's arguments give its data edges and a
 * loop's condition the handles it waits on; it also tracks which values may
 * hold something callable, so that a call through a variable is shown as
 * unknown rather than guessed.
 *
 * @module
 */

import type { EntityDef } from "../../define/defs.ts";
import type { SkeletonZone } from "../../core/dag_format.ts";
import { child, children, childrenOf, identName, isFunction, type Node, unwrap } from "./ast.ts";
import type { ModuleInfo } from "./resolve_types.ts";
import { values } from "./values.ts";
import { ExpressionWalker, waitsOf } from "./walk_expr.ts";
import type { Local } from "./walk_state.ts";

/** What a walk found. */
export interface Walked {
  /** The zones, with call entities as definitions. */
  zones: SkeletonZone[];
  /** The entities called, with the key of each call zone. */
  calls: Map<string, EntityDef>;
  /** Whether some zone is unknown. */
  unknown: boolean;
}

/**
 * Walks a flow's generator function.
 *
 * @param fn The generator function node.
 * @param module Its module.
 * @returns The zones (call ids not yet numbered: see `numberCalls`).
 */
export function walkFlow(fn: Node, module: ModuleInfo): Walked {
  const w = new Walker(module);
  const zones = w.collect(() => w.functionBody(fn, [], undefined, "flow"));
  return { zones, calls: w.calls, unknown: w.unknown };
}

class Walker extends ExpressionWalker {
  // ---- statements -----------------------------------------------------------

  block(statements: Node[]): void {
    this.withScope(this.scope, () => {
      this.hoist(statements, false);
      for (const s of statements) this.stmt(s);
    });
  }

  stmt(node: Node): void {
    switch (node.type) {
      case "BlockStatement":
        return this.block(children(node, "body"));
      case "ExpressionStatement":
        this.expr(child(node, "expression")!);
        return;
      case "VariableDeclaration":
        for (const d of children(node, "declarations")) {
          const id = child(d, "id");
          const init = child(d, "init");
          if (init === undefined) continue;
          const fn = unwrap(init);
          const name = identName(id);
          if (name !== undefined && node.kind === "const" && isFunction(fn)) {
            const local = this.lookup(name) ?? this.declare(name);
            local.fn = { node: fn, scope: this.scope };
            this.assign(local, values.callable, false);
            continue;
          }
          this.bind(id, this.expr(init), false);
        }
        return;
      case "FunctionDeclaration":
      case "ClassDeclaration":
      case "EmptyStatement":
      case "DebuggerStatement":
        return;
      case "IfStatement":
        return this.ifStatement(node);
      case "WhileStatement":
      case "DoWhileStatement":
      case "ForStatement":
      case "ForOfStatement":
      case "ForInStatement":
        return this.loop(node, undefined);
      case "LabeledStatement": {
        const body = child(node, "body")!;
        const label = identName(child(node, "label"));
        if (/^(While|DoWhile|For|ForOf|ForIn)Statement$/.test(body.type)) {
          return this.loop(body, label);
        }
        this.frames.push("block", label);
        this.stmt(body);
        this.env = values.joinEnv(this.env, ...this.frames.pop().breaks);
        return;
      }
      case "SwitchStatement":
        return this.switchStatement(node);
      case "TryStatement":
        return this.tryStatement(node);
      case "ReturnStatement": {
        const arg = child(node, "argument");
        const value = arg === undefined ? values.empty : this.expr(arg);
        this.returns?.push(value);
        if (this.writing) {
          this.emit({
            kind: "exit",
            exit: "return",
            from: this.keysOf(value.h),
            line: this.line(node),
          });
        }
        return;
      }
      case "BreakStatement":
      case "ContinueStatement": {
        const label = identName(child(node, "label"));
        const exit = node.type === "BreakStatement" ? "break" : "continue";
        this.frames.exit(exit, label, this.env);
        if (!this.writing) return;
        this.emit({
          kind: "exit",
          exit,
          ...(label === undefined ? {} : { label }),
          from: [],
          line: this.line(node),
        });
        return;
      }
      case "ThrowStatement": {
        const value = this.expr(child(node, "argument")!);
        if (this.writing) {
          this.emit({
            kind: "exit",
            exit: "throw",
            from: this.keysOf(value.h),
            line: this.line(node),
          });
        }
        return;
      }
      default:
        for (const c of childrenOf(node)) {
          if (/Statement$|Declaration$/.test(c.type)) this.stmt(c);
          else this.expr(c);
        }
    }
  }

  ifStatement(node: Node): void {
    const alternate = child(node, "alternate");
    this.branch(
      node,
      child(node, "test")!,
      () => this.stmt(child(node, "consequent")!),
      alternate === undefined ? undefined : () => this.stmt(alternate),
      true,
    );
  }

  loop(node: Node, label: string | undefined): void {
    const parts = loopParts(node);
    this.withScope(this.scope, () => {
      // What runs once, before the loop: a for's init, a for…of's iterable.
      let iterated = values.empty;
      if (parts.init !== undefined) {
        if (parts.init.type === "VariableDeclaration") {
          this.hoist([parts.init], false);
          this.stmt(parts.init);
        } else this.expr(parts.init);
      }
      if (parts.right !== undefined) iterated = this.expr(parts.right);
      const round = () => {
        if (parts.left !== undefined) {
          const left = parts.left;
          if (left.type === "VariableDeclaration") {
            this.hoist([left], false);
            for (const d of children(left, "declarations")) {
              this.bind(child(d, "id"), iterated, true);
            }
          } else this.bind(left, iterated, false);
        }
        if (!parts.testAfter && parts.test !== undefined) this.expr(parts.test);
        this.stmt(parts.body);
        this.env = values.joinEnv(this.env, ...this.frames.top().continues);
        if (parts.update !== undefined) this.expr(parts.update);
        if (parts.testAfter && parts.test !== undefined) this.expr(parts.test);
      };
      const entry = values.copyEnv(this.env);
      // Values carried round the loop: walk its rounds (dropping their
      // zones) until the variables stop changing.
      let carried = values.env();
      for (let i = 0; i < (this.dry > 0 ? 1 : 3); i++) {
        this.env = values.joinEnv(entry, carried);
        this.frames.push("loop", label);
        this.dryRun(round);
        // A variable declared in the loop is a new one each round: what it
        // held in the last round does not reach the next.
        const { declared } = this.frames.pop();
        if (values.sameEnv(this.env, carried, declared)) break;
        carried = this.env;
      }
      this.env = values.joinEnv(entry, carried);
      const frame = this.frames.push("loop", label);
      let test: SkeletonZone[] = [];
      let body: SkeletonZone[] = [];
      if (parts.left !== undefined) {
        const left = parts.left;
        if (left.type === "VariableDeclaration") {
          this.hoist([left], false);
          for (const d of children(left, "declarations")) this.bind(child(d, "id"), iterated, true);
        } else this.bind(left, iterated, false);
      }
      if (!parts.testAfter && parts.test !== undefined) {
        test = this.collect(() => this.expr(parts.test!));
      }
      body = this.collect(() => this.stmt(parts.body));
      this.env = values.joinEnv(this.env, ...frame.continues);
      if (parts.update !== undefined) body.push(...this.collect(() => this.expr(parts.update!)));
      if (parts.testAfter && parts.test !== undefined) {
        test = this.collect(() => this.expr(parts.test!));
      }
      this.frames.pop();
      this.env = values.joinEnv(this.env, entry, ...frame.breaks);
      if (!this.writing) return;
      this.emit({
        kind: "loop",
        loop: parts.kind,
        condition: parts.condition(this),
        test,
        waits: waitsOf(test),
        carries: [...frame.written].filter((v) =>
          frame.read.has(v) && !frame.declared.has(v) &&
          values.carries(this.env.get(v) ?? values.empty)
        ).map((v) => (v as Local).name).sort(),
        body,
        ...(label === undefined ? {} : { label }),
        line: this.line(node),
      });
    });
  }

  switchStatement(node: Node): void {
    const discriminant = child(node, "discriminant")!;
    const waits = this.condition(discriminant);
    const entry = values.copyEnv(this.env);
    const frame = this.frames.push("switch", undefined);
    const cases: { test: string | null; body: SkeletonZone[]; fallsThrough: boolean }[] = [];
    let previous: ReturnType<typeof values.env> | undefined;
    let hasDefault = false;
    this.withScope(this.scope, () => {
      const all = children(node, "cases");
      this.hoist(all.flatMap((c) => children(c, "consequent")), false);
      for (const c of all) {
        const test = child(c, "test");
        if (test === undefined) hasDefault = true;
        else this.expr(test);
        this.env = previous === undefined ? values.copyEnv(entry) : values.joinEnv(entry, previous);
        const statements = children(c, "consequent");
        const body = this.collect(() => statements.forEach((s) => this.stmt(s)));
        const lastStatement = statements[statements.length - 1];
        const fallsThrough = lastStatement === undefined ||
          !/^(Break|Return|Throw|Continue)Statement$/.test(lastStatement.type);
        previous = fallsThrough ? this.env : undefined;
        cases.push({ test: test === undefined ? null : this.text(test), body, fallsThrough });
      }
    });
    this.frames.pop();
    this.env = values.joinEnv(
      ...(previous === undefined ? [] : [previous]),
      ...(hasDefault ? [] : [entry]),
      ...frame.breaks,
    );
    if (!this.writing) return;
    this.emit({
      kind: "switch",
      condition: this.text(discriminant),
      waits,
      cases,
      line: this.line(node),
    });
  }

  tryStatement(node: Node): void {
    const entry = values.copyEnv(this.env);
    const body = this.collect(() => this.stmt(child(node, "block")!));
    const handler = child(node, "handler");
    const finalizer = child(node, "finalizer");
    const zone: SkeletonZone = { kind: "try", body, line: this.line(node) };
    if (handler !== undefined) {
      const afterBody = this.env;
      this.env = values.joinEnv(entry, afterBody);
      zone.catch = this.collect(() =>
        this.withScope(this.scope, () => {
          this.bind(child(handler, "param"), values.empty, true);
          this.stmt(child(handler, "body")!);
        })
      );
      this.env = values.joinEnv(afterBody, this.env);
    }
    if (finalizer !== undefined) {
      this.env = values.joinEnv(entry, this.env);
      zone.finally = this.collect(() => this.stmt(finalizer));
    }
    this.emit(zone);
  }
}

interface LoopParts {
  kind: "while" | "do" | "for" | "for-of" | "for-in";
  init?: Node;
  left?: Node;
  right?: Node;
  test?: Node;
  update?: Node;
  testAfter: boolean;
  body: Node;
  condition(w: Walker): string;
}

function loopParts(node: Node): LoopParts {
  const body = child(node, "body")!;
  const test = child(node, "test");
  switch (node.type) {
    case "WhileStatement":
      return {
        kind: "while",
        test: test!,
        testAfter: false,
        body,
        condition: (w) => w.text(test!),
      };
    case "DoWhileStatement":
      return { kind: "do", test: test!, testAfter: true, body, condition: (w) => w.text(test!) };
    case "ForStatement": {
      const init = child(node, "init");
      const update = child(node, "update");
      const parts: LoopParts = {
        kind: "for",
        testAfter: false,
        body,
        condition: (w) =>
          [init, test, update].map((p) => p === undefined ? "" : w.text(p).replace(/;$/, ""))
            .join("; "),
      };
      if (init !== undefined) parts.init = init;
      if (test !== undefined) parts.test = test;
      if (update !== undefined) parts.update = update;
      return parts;
    }
    default: {
      const left = child(node, "left")!;
      const right = child(node, "right")!;
      const of = node.type === "ForOfStatement";
      return {
        kind: of ? "for-of" : "for-in",
        left,
        right,
        testAfter: false,
        body,
        condition: (w) =>
          `${node.await === true ? "await " : ""}${w.text(left)} ${of ? "of" : "in"} ${
            w.text(right)
          }`,
      };
    }
  }
}
