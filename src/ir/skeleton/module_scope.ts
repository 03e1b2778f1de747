/**
 * What a module's top level declares, read from its program: imports,
 * declarations (with their initialisers), export names, the names assigned
 * anywhere (so a `let` that changes is not trusted), and its async generator
 * functions (where flows' bodies are).
 *
 * @module
 */

import {
  child,
  children,
  identName,
  isFunction,
  isNode,
  type Node,
  patternNames,
  unwrap,
} from "./ast.ts";

/** An import binding. */
export interface ImportBinding {
  /** The specifier as written. */
  source: string;
  /** The imported name, `default`, or `*` for a namespace import. */
  imported: string;
}

/** A top-level declaration. */
export interface Declaration {
  /** How it is declared. */
  kind: "const" | "let" | "var" | "function" | "class";
  /** The declaring node: a declarator, a function or a class declaration. */
  node: Node;
  /** A declarator's initialiser, when it is a plain `name = init`. */
  init?: Node;
  /** Whether the name is bound by destructuring (its value cannot be read from the source). */
  destructured: boolean;
}

/** A module's top level. */
export interface ModuleScope {
  /** Import bindings by local name. */
  imports: Map<string, ImportBinding>;
  /** Declarations by name. */
  declarations: Map<string, Declaration>;
  /** Export names by local name. */
  exports: Map<string, string[]>;
  /** Names assigned somewhere in the module (`x = …`, `x++`), at any depth. */
  assigned: Set<string>;
  /** Every async generator function of the module, with the call or method it is part of. */
  generators: GeneratorSite[];
}

/** Where an async generator function is. */
export interface GeneratorSite {
  /** The function node (a declaration, an expression, or a method's value). */
  fn: Node;
  /** Its name: its own, a method's key, or the variable it is assigned to. */
  name: string | undefined;
  /** The call it is an argument of (`flow(…, fn)`), if any. */
  call?: Node;
  /** A method's decorators, if any. */
  decorators: Node[];
}

/**
 * Reads a module's top level.
 *
 * @param program The module's program.
 * @returns Its imports, declarations, exports, assigned names and generators.
 */
export function moduleScope(program: Node): ModuleScope {
  const scope: ModuleScope = {
    imports: new Map(),
    declarations: new Map(),
    exports: new Map(),
    assigned: new Set(),
    generators: [],
  };
  const exportAs = (local: string, exported: string) => {
    const list = scope.exports.get(local) ?? [];
    list.push(exported);
    scope.exports.set(local, list);
  };
  const declare = (node: Node, exported: boolean): void => {
    if (node.type === "VariableDeclaration") {
      for (const d of children(node, "declarations")) {
        const id = child(d, "id");
        const init = child(d, "init");
        const kind = node.kind as "const" | "let" | "var";
        for (const name of patternNames(id)) {
          const decl: Declaration = {
            kind,
            node: d,
            destructured: id?.type !== "Identifier",
          };
          if (init !== undefined && id?.type === "Identifier") decl.init = init;
          scope.declarations.set(name.name as string, decl);
          if (exported) exportAs(name.name as string, name.name as string);
        }
      }
    } else if (node.type === "FunctionDeclaration" || node.type === "ClassDeclaration") {
      const name = identName(child(node, "id"));
      if (name === undefined) return;
      scope.declarations.set(name, {
        kind: node.type === "FunctionDeclaration" ? "function" : "class",
        node,
        destructured: false,
      });
      if (exported) exportAs(name, name);
    }
  };
  for (const stmt of children(program, "body")) {
    switch (stmt.type) {
      case "ImportDeclaration": {
        const source = String(child(stmt, "source")?.value);
        for (const spec of children(stmt, "specifiers")) {
          const local = identName(child(spec, "local"))!;
          const imported = spec.type === "ImportNamespaceSpecifier"
            ? "*"
            : spec.type === "ImportDefaultSpecifier"
            ? "default"
            : importedName(child(spec, "imported"));
          scope.imports.set(local, { source, imported });
        }
        break;
      }
      case "ExportNamedDeclaration": {
        const decl = child(stmt, "declaration");
        if (decl !== undefined) declare(decl, true);
        else if (child(stmt, "source") === undefined) {
          for (const spec of children(stmt, "specifiers")) {
            exportAs(importedName(child(spec, "local")), importedName(child(spec, "exported")));
          }
        }
        break;
      }
      case "ExportDefaultDeclaration": {
        const decl = child(stmt, "declaration")!;
        const name = identName(child(decl, "id")) ?? identName(decl);
        if (decl.type === "FunctionDeclaration" || decl.type === "ClassDeclaration") {
          declare(decl, false);
        }
        if (name !== undefined) exportAs(name, "default");
        break;
      }
      default:
        declare(stmt, false);
    }
  }
  scan(program, scope, undefined, undefined);
  return scope;
}

function importedName(node: Node | undefined): string {
  if (node === undefined) return "default";
  return node.type === "Identifier" ? node.name as string : String(node.value);
}

/** Finds assignments and async generator functions at any depth. */
function scan(
  node: Node,
  scope: ModuleScope,
  call: Node | undefined,
  name: string | undefined,
): void {
  if (node.type === "AssignmentExpression") {
    for (const id of patternNames(assignmentTarget(child(node, "left")))) {
      scope.assigned.add(id.name as string);
    }
  } else if (node.type === "UpdateExpression") {
    const id = identName(child(node, "argument"));
    if (id !== undefined) scope.assigned.add(id);
  } else if (node.type === "ForOfStatement" || node.type === "ForInStatement") {
    const left = child(node, "left");
    if (left !== undefined && left.type !== "VariableDeclaration") {
      for (const id of patternNames(assignmentTarget(left))) scope.assigned.add(id.name as string);
    }
  }
  if (isFunction(node) && node.async === true && node.generator === true) {
    scope.generators.push({
      fn: node,
      name: identName(child(node, "id")) ?? name,
      ...(call === undefined ? {} : { call }),
      decorators: [],
    });
  }
  if (node.type === "MethodDefinition" || node.type === "PropertyDefinition") {
    const value = child(node, "value");
    if (
      value !== undefined && isFunction(value) && value.async === true && value.generator === true
    ) {
      scope.generators.push({
        fn: value,
        name: identName(child(node, "key")) ?? (child(node, "key")?.value as string | undefined),
        decorators: children(node, "decorators"),
      });
      for (const sub of children(value, "params")) scan(sub, scope, undefined, undefined);
      const body = child(value, "body");
      if (body !== undefined) scan(body, scope, undefined, undefined);
      for (const d of children(node, "decorators")) scan(d, scope, undefined, undefined);
      return;
    }
  }
  // What a child is to this node: an argument of a call, a variable's initialiser.
  const isCall = node.type === "CallExpression" || node.type === "NewExpression";
  const declared = node.type === "VariableDeclarator" ? identName(child(node, "id")) : undefined;
  for (const key of Object.keys(node)) {
    if (key === "loc" || key === "range") continue;
    const x = node[key];
    const callOf = isCall && key === "arguments" ? node : undefined;
    const varName = key === "init" ? declared : undefined;
    if (Array.isArray(x)) {
      for (const y of x) if (isNode(y)) scan(y, scope, callOf, varName);
    } else if (isNode(x)) scan(x, scope, callOf, varName);
  }
}

function assignmentTarget(node: Node | undefined): Node | undefined {
  if (node === undefined) return undefined;
  const n = unwrap(node);
  return n.type === "MemberExpression" ? undefined : n;
}
