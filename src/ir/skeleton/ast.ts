/**
 * The few things the skeleton extractor needs from an ESTree node, typed
 * loosely: the walker looks at fields by name, and a node of a kind it does
 * not know is walked generically (every child node in source order).
 *
 * @module
 */

/** An ESTree node as meriyah makes it (with `ranges`). */
export interface Node {
  /** The node type (`CallExpression`…). */
  readonly type: string;
  /** Offset of its first character. */
  readonly start: number;
  /** Offset after its last character. */
  readonly end: number;
  /** Its fields. */
  readonly [field: string]: unknown;
}

/**
 * Whether a value is a node.
 *
 * @param x Anything.
 * @returns Whether it has a string `type` and a `start`.
 */
export function isNode(x: unknown): x is Node {
  return typeof x === "object" && x !== null &&
    typeof (x as { type?: unknown }).type === "string" &&
    typeof (x as { start?: unknown }).start === "number";
}

/**
 * A field of a node that holds a node.
 *
 * @param node The node.
 * @param field The field name.
 * @returns The child node, or undefined (absent, null, or not a node).
 */
export function child(node: Node, field: string): Node | undefined {
  const x = node[field];
  return isNode(x) ? x : undefined;
}

/**
 * A field of a node that holds a list of nodes (holes left out).
 *
 * @param node The node.
 * @param field The field name.
 * @returns The child nodes.
 */
export function children(node: Node, field: string): Node[] {
  const x = node[field];
  return Array.isArray(x) ? x.filter(isNode) : [];
}

/**
 * Every child node of a node, in source order.
 *
 * @param node The node.
 * @returns Its children.
 */
export function childrenOf(node: Node): Node[] {
  const out: Node[] = [];
  for (const key of Object.keys(node)) {
    if (key === "loc" || key === "range") continue;
    const x = node[key];
    if (isNode(x)) out.push(x);
    else if (Array.isArray(x)) { for (const y of x) if (isNode(y)) out.push(y); }
  }
  return out.sort((a, b) => a.start - b.start);
}

/**
 * The name of an identifier node.
 *
 * @param node A node, or undefined.
 * @returns Its name when it is an `Identifier`.
 */
export function identName(node: Node | undefined): string | undefined {
  return node?.type === "Identifier" ? node.name as string : undefined;
}

/**
 * Strips what does not change a value: parentheses, optional chains,
 * TypeScript leftovers of a transform.
 *
 * @param node An expression.
 * @returns The expression inside.
 */
export function unwrap(node: Node): Node {
  let n = node;
  while (
    n.type === "ParenthesizedExpression" || n.type === "ChainExpression" ||
    n.type === "TSAsExpression" || n.type === "TSNonNullExpression"
  ) {
    n = child(n, "expression")!;
  }
  return n;
}

/**
 * The names a binding pattern declares (`a`, `{ b, c: [d] }`, `...e`).
 *
 * @param pattern The pattern.
 * @returns The identifiers it binds.
 */
export function patternNames(pattern: Node | undefined): Node[] {
  if (pattern === undefined) return [];
  switch (pattern.type) {
    case "Identifier":
      return [pattern];
    case "ObjectPattern":
      return children(pattern, "properties").flatMap((p) =>
        p.type === "RestElement"
          ? patternNames(child(p, "argument"))
          : patternNames(child(p, "value"))
      );
    case "ArrayPattern":
      return children(pattern, "elements").flatMap(patternNames);
    case "RestElement":
      return patternNames(child(pattern, "argument"));
    case "AssignmentPattern":
      return patternNames(child(pattern, "left"));
    default:
      return [];
  }
}

/** Whether a node is a function (whose body runs only when it is called). */
export function isFunction(node: Node): boolean {
  return node.type === "FunctionExpression" || node.type === "ArrowFunctionExpression" ||
    node.type === "FunctionDeclaration";
}
