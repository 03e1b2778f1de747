// core/order.ts: the topological order the graph model and the IR reader share.
import assert from "node:assert/strict";
import { topologicalOrder } from "../src/core/order.ts";

interface Item {
  id: string;
  deps: string[];
}

const ids = (items: readonly Item[]) => items.map((i) => i.id);
const order = (items: Item[]) => ids(topologicalOrder(items, (i) => i.deps));

Deno.test("topologicalOrder keeps a list that is already in order as it is", () => {
  const items = [
    { id: "a", deps: [] },
    { id: "b", deps: ["a"] },
    { id: "c", deps: [] },
    { id: "d", deps: ["b", "c"] },
  ];
  assert.deepEqual(order(items), ["a", "b", "c", "d"]);
});

Deno.test("topologicalOrder moves an item after what it depends on, the rest keeping their order", () => {
  const items = [
    { id: "load", deps: ["migrate"] },
    { id: "x", deps: [] },
    { id: "migrate", deps: [] },
    { id: "y", deps: ["load"] },
  ];
  // The first ready item is taken each time: x before migrate, then load, then y.
  assert.deepEqual(order(items), ["x", "migrate", "load", "y"]);
});

Deno.test("topologicalOrder counts ids outside the list as placed", () => {
  const items = [
    { id: "b", deps: ["outside"] },
    { id: "a", deps: [] },
  ];
  // Were "outside" waited for, a would come first.
  assert.deepEqual(order(items), ["b", "a"]);
});
