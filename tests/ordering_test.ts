// Ordering edges without data: after(handle, ...deps) and addEntity(…, { after }).
import assert from "node:assert/strict";
import {
  after,
  flow,
  run,
  task,
  type TaskContext,
  ValidationError,
  wait,
  Workflow,
  workflow,
} from "../mod.ts";
import { fromDag, renderDag, toDag, validateDag } from "../ir.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The order tasks start and finish in, as a log. */
function logged() {
  const log: string[] = [];
  const echo = task(async function echo(message: string, ctx: TaskContext) {
    log.push(`start ${ctx.nodeId}`);
    await sleep(message.endsWith("B") ? 20 : 5);
    log.push(`end ${ctx.nodeId}`);
    return message;
  });
  return { log, echo };
}

const before = (log: string[], a: string, b: string) =>
  assert.ok(log.indexOf(`end ${a}`) < log.indexOf(`start ${b}`), `${a} before ${b}: ${log}`);

// Ported from flytekit, tests/flytekit/unit/core/test_node_creation.py,
// test_normal_task's empty_wf and empty_wf2: t2_node and t3_node take nothing
// from each other; `t3_node.runs_before(t2_node)` (or `t3_node >> t2_node`)
// makes t3 upstream of t2: the serialised t2 node lists t3 as its upstream node.
Deno.test("flytekit: a node runs after another though no value passes (runs_before)", async () => {
  const ran: string[] = [];
  const t2 = task(function t2() {
    ran.push("t2");
  });
  const t3 = task(function t3() {
    ran.push("t3");
  });
  const emptyWf = workflow(function empty_wf() {
    const t2Node = t2();
    const t3Node = t3();
    after(t2Node, t3Node);
  });
  const [wf] = emptyWf.graph.workflows;
  assert.ok(wf?.kind === "static");
  const t2Ir = wf.nodes.find((n) => n.id === "t2")!;
  assert.deepEqual(t2Ir.after, ["t3"]);
  // In weft's IR the nodes are listed in a topological order: t3 first.
  assert.deepEqual(wf.nodes.map((n) => n.id), ["t3", "t2"]);
  assert.deepEqual(wf.edges, []);
  await emptyWf();
  assert.deepEqual(ran, ["t3", "t2"]);
});

// Ported from flytekit, test_node_creation.py, test_runs_before: a dynamic
// subworkflow building sleep_task(a=i) for i in range(a) runs before
// t2(a=b, b=b) (which returns b + a); my_wf(a=5, b="hello") returns
// ("hellohello", ["world-2", …, "world-6"], 5).
Deno.test("flytekit: a dynamic subworkflow runs before a task (test_runs_before)", async () => {
  const order: string[] = [];
  const t2 = task(function t2(a: string, b: string) {
    order.push("t2");
    return b + a;
  });
  const sleepTask = task(function sleep_task(a: number) {
    order.push(`sleep_task ${a}`);
    return `world-${a + 2}`;
  });
  const mySubwf = flow({ outputs: ["o0", "o1"] }, async function* my_subwf(a: number) {
    const s = [];
    for (let i = 0; i < a; i++) s.push(sleepTask(i));
    return { o0: yield* wait(s), o1: 5 };
  });
  const myWf = workflow(function my_wf(a: number, b: string) {
    const subwfNode = mySubwf(a);
    const t2Node = after(t2(b, b), subwfNode);
    return { o0: t2Node, o1: subwfNode.outputs.o0, o2: subwfNode.outputs.o1 };
  });
  const out = await myWf(5, "hello");
  assert.deepEqual(out, {
    o0: "hellohello",
    o1: ["world-2", "world-3", "world-4", "world-5", "world-6"],
    o2: 5,
  });
  assert.equal(order.at(-1), "t2");
});

// Ported from Argo Workflows, examples/dag-diamond.yaml: tasks A, B, C, D of
// an echo template, B and C with dependencies [A], D with dependencies [B, C];
// no task passes a value to another, each echoes its own message.
Deno.test("Argo: the DAG diamond as ordering edges, in the builder", async () => {
  const { log, echo } = logged();
  const wf = new Workflow("diamond");
  const name = (x: string) => `foo-bar-longname-${x}`;
  const a = wf.addEntity(echo.with({ name: name("A") }), { message: name("A") });
  const b = wf.addEntity(echo.with({ name: name("B") }), { message: name("B") }, { after: [a] });
  const c = wf.addEntity(echo.with({ name: name("C") }), { message: name("C") }, { after: [a] });
  const d = wf.addEntity(echo.with({ name: name("D") }), { message: name("D") }, {
    after: [b, c],
  });
  wf.addOutput("messages", [a, b, c, d]);
  const out = await wf.execute({});
  assert.deepEqual(out, ["A", "B", "C", "D"].map(name));
  before(log, name("A"), name("B"));
  before(log, name("A"), name("C"));
  before(log, name("B"), name("D"));
  before(log, name("C"), name("D"));
  // B and C run at the same time.
  assert.ok(log.indexOf(`start ${name("C")}`) < log.indexOf(`end ${name("B")}`), `${log}`);
  const [ir] = wf.graph.workflows;
  assert.ok(ir?.kind === "static");
  assert.deepEqual(
    Object.fromEntries(ir.nodes.map((n) => [n.id, n.after ?? []])),
    {
      [name("A")]: [],
      [name("B")]: [name("A")],
      [name("C")]: [name("A")],
      [name("D")]: [name("B"), name("C")],
    },
  );
});

Deno.test("after() in a flow orders a call made in the same step", async () => {
  const { log, echo } = logged();
  const f = flow(async function* ordered() {
    const migrate = echo("migrate-B"); // the slow one
    const load = after(echo("load"), migrate);
    return yield* wait(load);
  });
  const r = await run(f, {});
  assert.equal(r.outputs, "load");
  before(log, "echo", "echo_2");
  assert.deepEqual(r.graph.nodes.find((n) => n.id === "echo_2")?.after, ["echo"]);
});

Deno.test("after() in a flow after the call has started says it came too late", async () => {
  const { echo } = logged();
  const f = flow(async function* late() {
    const a = echo("a");
    const b = echo("b");
    yield* wait(a);
    after(b, a);
  });
  const r = await run(f, {});
  assert.equal(r.status, "failed");
  assert.match(r.errors[0]!.message, /came too late: the call has started already/);
});

Deno.test("a failed node skips what runs after it, as a failed input does", async () => {
  const boom = task(function boom(): number {
    throw new Error("boom");
  });
  const ok = task(function ok() {
    return 1;
  });
  const wf = workflow(function guarded() {
    return after(ok(), boom());
  });
  const r = await run(wf, {});
  assert.equal(r.status, "failed");
  assert.equal(r.graph.nodes.find((n) => n.id === "ok")?.status, "skipped");
  const f = flow(async function* guardedFlow() {
    const b = boom();
    const o = after(ok(), b);
    try {
      yield* wait(o);
    } catch (e) {
      return (e as Error).message;
    }
  });
  // The flow waited for the skipped call and caught the failure: it handled it.
  const rf = await run(f, {});
  assert.equal(rf.status, "succeeded");
  assert.match(rf.outputs as string, /boom/);
  assert.equal(rf.graph.nodes.find((n) => n.id === "ok")?.status, "skipped");
});

Deno.test("ordering cycles and foreign handles are refused, saying where", () => {
  const t = task(function t(x: number) {
    return x;
  });
  assert.throws(
    () =>
      workflow(function cyclic(x: number) {
        const a = t(x);
        const b = t(a);
        after(a, b);
        return b;
      }),
    (e) =>
      e instanceof ValidationError &&
      /cannot run after 't_2', which depends on it \(t → t_2\): that would be a cycle/.test(
        e.message,
      ),
  );
  assert.throws(
    () =>
      workflow(function selfish(x: number) {
        const a = t(x);
        return after(a, a);
      }),
    (e) => e instanceof ValidationError && /cannot run after itself/.test(e.message),
  );
  const other = new Workflow("other");
  const foreign = other.addEntity(t, { x: 1 });
  const wf = new Workflow("mine");
  const mine = wf.addEntity(t, { x: 2 });
  assert.throws(
    () => after(mine, foreign),
    (e) => e instanceof ValidationError && /same workflow/.test(e.message),
  );
  assert.throws(
    () => wf.addEntity(t, { x: 3 }, { after: [wf.addInput("y")] }),
    (e) => e instanceof ValidationError && /an input is known before anything runs/.test(e.message),
  );
});

Deno.test("ordering edges survive the IR round trip and draw dashed in DOT and Mermaid", async () => {
  const ran: string[] = [];
  const step = task(function step(name: string) {
    ran.push(name);
    return name;
  });
  const wf = workflow(function steps() {
    const second = step("second");
    const first = step("first");
    after(second, first);
    return second;
  });
  const text = JSON.stringify(wf.graph);
  await validateDag(text);
  const loaded = await fromDag(text, [step]);
  const again = toDag([loaded]).workflows[0]!;
  assert.ok(again.kind === "static");
  assert.deepEqual(again.nodes.map((n) => [n.id, n.after ?? []]), [["step_2", []], ["step", [
    "step_2",
  ]]]);
  assert.equal(await loaded.execute({}), "second");
  assert.deepEqual(ran, ["first", "second"]);
  assert.match(await renderDag(wf.graph, "dot"), /w0_n0 -> w0_n1 \[label="after", style=dashed\]/);
  assert.match(await renderDag(wf.graph, "mermaid"), /w0_n0 -.->\|"after"\| w0_n1/);
  const broken = JSON.parse(text);
  broken.workflows[0].nodes[1].after = ["nowhere"];
  await assert.rejects(
    validateDag(broken),
    (e) =>
      e instanceof ValidationError &&
      /runs after node 'nowhere', which workflow 'steps' does not have/.test(e.message),
  );
  const cyclic = JSON.parse(text);
  cyclic.workflows[0].nodes[0].after = ["step"];
  await assert.rejects(
    validateDag(cyclic),
    (e) => e instanceof ValidationError && /has a cycle/.test(e.message),
  );
});
