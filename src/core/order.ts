/**
 * A topological order that keeps a list's own order where it already is
 * one: the graph model's nodes and an IR document's nodes are both put in
 * order this way.
 *
 * @module
 */

/**
 * The items in an order where each comes after the items of the list it
 * depends on, taking at each step the first one that is ready; ids that are
 * not in the list count as placed. The caller rules out cycles.
 *
 * @param items The list.
 * @param dependencies The ids an item comes after.
 * @returns The items, ordered.
 */
export function topologicalOrder<T extends { readonly id: string }>(
  items: readonly T[],
  dependencies: (item: T) => readonly string[],
): T[] {
  const inList = new Set(items.map((n) => n.id));
  const placed = new Set<string>();
  const out: T[] = [];
  const pending = [...items];
  while (pending.length > 0) {
    // Without a cycle some item is always ready.
    const i = pending.findIndex((n) =>
      dependencies(n).every((id) => placed.has(id) || !inList.has(id))
    );
    const [next] = pending.splice(i, 1);
    placed.add(next!.id);
    out.push(next!);
  }
  return out;
}
