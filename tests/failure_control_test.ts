// What happens when a workflow or flow fails or takes too long: onFailure,
// failurePolicy, timeout (whole, and on a sub-flow call), the recursion
// limit, and the raw generator mistake.
import assert from "node:assert/strict";
import {
  all,
  eq,
  flow,
  type Handle,
  ifElse,
  run,
  task,
  type TaskContext,
  TaskFailedError,
  TimeoutError,
  ValidationError,
  wait,
  Workflow,
  workflow,
} from "../mod.ts";
import { fromDag, renderDag, validateDag } from "../ir.ts";
import { deno, ROOT, sleep, tempDir } from "./_helpers.ts";

// Ported from Argo Workflows, examples/exit-handlers.yaml: the entrypoint
// "intentional-fail" runs `echo intentional failure; exit 1`; the exit
// handler's steps send an e-mail with the workflow's status and failures,
// then "celebrate" when the status is Succeeded and "cry" ("boohoo!")
// otherwise. The workflow fails; the handler notifies and cries.
Deno.test("Argo: an exit handler runs when the workflow fails (onFailure)", async () => {
  const printed: string[] = [];
  const intentionalFail = task(function intentional_fail() {
    printed.push("intentional failure");
    throw new Error("exit 1");
  });
  const sendEmail = task(function send_email(name: string, status: string, failure: string) {
    printed.push(`send e-mail: ${name} ${status}. Failed steps ${failure}`);
  });
  const celebrate = task(function celebrate() {
    printed.push("hooray!");
  });
  const cry = task(function cry() {
    printed.push("boohoo!");
  });
  const statusOf = task(function status_of(error: { message: string } | undefined) {
    return error === undefined ? "Succeeded" : "Failed";
  });
  const exitHandler = workflow(
    function exit_handler(error: { name: string; message: string; nodeId?: string }) {
      const status = statusOf(error);
      sendEmail("exit-handlers", status, "intentional_fail");
      return ifElse(eq(status, "Succeeded"), () => celebrate(), () => cry());
    },
  );
  const exitHandlers = workflow(
    { name: "exit_handlers", onFailure: exitHandler },
    function () {
      intentionalFail();
    },
  );
  const r = await run(exitHandlers, {});
  assert.equal(r.status, "failed");
  assert.match(r.errors[0]!.message, /exit 1/);
  assert.deepEqual(printed, [
    "intentional failure",
    "send e-mail: exit-handlers Failed. Failed steps intentional_fail",
    "boohoo!",
  ]);
  const nodes = Object.fromEntries(r.graph.nodes.map((n) => [n.id, n.status]));
  assert.equal(nodes["onFailure"], "succeeded");
  assert.equal(nodes["onFailure/ifElse/celebrate"], "skipped");
  assert.equal(nodes["onFailure/ifElse/cry"], "succeeded");
});

Deno.test("onFailure gets { error, inputs }, in a flow and in the builder; a failing handler is reported too", async () => {
  const seen: unknown[] = [];
  const notify = task(function notify(error: { name: string; message: string }, inputs: unknown) {
    seen.push({ name: error.name, message: error.message, inputs });
  });
  const boom = task(function boom(x: number): number {
    throw new Error(`boom ${x}`);
  });
  const f = flow({ onFailure: notify }, async function* guarded(x: number) {
    return yield* wait(boom(x));
  });
  const r = await run(f, { x: 7 });
  assert.equal(r.status, "failed");
  assert.equal(seen.length, 1);
  assert.match((seen[0] as { message: string }).message, /boom 7/);
  assert.deepEqual((seen[0] as { inputs: unknown }).inputs, { x: 7 });

  const built = new Workflow("built_guarded", { onFailure: notify });
  built.addOutput("o", built.addEntity(boom, { x: built.addInput("x") }));
  seen.length = 0;
  assert.equal((await run(built, { x: 1 })).status, "failed");
  assert.equal(seen.length, 1);

  // Nothing runs when the workflow succeeds.
  const ok = workflow({ onFailure: notify }, function fine(x: number) {
    return x;
  });
  seen.length = 0;
  assert.equal(await ok(3), 3);
  assert.equal(seen.length, 0);

  const brokenHandler = task(function brokenHandler(error: unknown) {
    throw new Error(`handler broke on ${(error as { message: string }).message.slice(0, 10)}`);
  });
  const g = flow({ onFailure: brokenHandler }, async function* twice(x: number) {
    return yield* wait(boom(x));
  });
  const r2 = await run(g, { x: 1 });
  assert.equal(r2.status, "failed");
  assert.equal(r2.errors.length, 2);
  assert.match(
    r2.errors[1]!.message,
    /The onFailure handler \(task 'brokenHandler', node 'onFailure'\) failed too/,
  );

  assert.throws(
    () =>
      workflow({ onFailure: boom }, function badHandler(x: number) {
        return x;
      }),
    (e) =>
      e instanceof ValidationError &&
      /is run with \{ error, inputs \}, but it takes 'x'/.test(e.message),
  );
});

Deno.test("failurePolicy: a workflow finishes what runs by default; fail-fast stops it", async () => {
  const finished: string[] = [];
  const fails = task(async function fails() {
    await sleep(5);
    throw new Error("first failure");
  });
  const slow = task(async function slow(ctx: TaskContext) {
    await sleep(200, ctx.signal);
    finished.push("slow");
    return 1;
  });
  const body = function () {
    return { a: fails(), b: slow() };
  };
  const finishing = workflow({ name: "finishing" }, body);
  const r1 = await run(finishing, {});
  assert.equal(r1.status, "failed");
  assert.deepEqual(finished, ["slow"]);
  assert.equal(r1.graph.nodes.find((n) => n.id === "slow")?.status, "succeeded");

  finished.length = 0;
  const fast = workflow({ name: "fast", failurePolicy: "fail-fast" }, body);
  const r2 = await run(fast, {});
  assert.equal(r2.status, "failed");
  assert.deepEqual(finished, []);
  assert.equal(r2.graph.nodes.find((n) => n.id === "slow")?.status, "cancelled");
  assert.equal(r2.errors.length, 1);
  assert.match(r2.errors[0]!.message, /first failure/);
});

Deno.test("failurePolicy: a flow stops what runs at an uncaught error by default; finish-running lets it end", async () => {
  const finished: string[] = [];
  const slow = task(async function slow(ctx: TaskContext) {
    await sleep(100, ctx.signal);
    finished.push("slow");
  });
  const bad = task(function bad(): number {
    throw new Error("bad");
  });
  const body = async function* () {
    slow();
    yield* wait(bad());
  };
  const r1 = await run(flow({ name: "stops" }, body), {});
  assert.equal(r1.status, "failed");
  assert.deepEqual(finished, []);
  const r2 = await run(flow({ name: "finishes", failurePolicy: "finish-running" }, body), {});
  assert.equal(r2.status, "failed");
  assert.deepEqual(finished, ["slow"]);
  assert.equal(r2.graph.nodes.find((n) => n.id === "slow")?.status, "succeeded");
});

Deno.test("a workflow's or flow's timeout fails it with TimeoutError and cancels what runs", async () => {
  const slow = task(async function slow(ctx: TaskContext) {
    await sleep(5_000, ctx.signal);
    return 1;
  });
  const wf = workflow({ timeout: "50ms" }, function bounded() {
    return slow();
  });
  const start = Date.now();
  const r = await run(wf, {});
  assert.ok(Date.now() - start < 3_000);
  assert.equal(r.status, "failed");
  assert.ok(r.errors[0] instanceof TimeoutError);
  assert.match(r.errors[0]!.message, /Workflow 'bounded' timed out after 50 ms/);
  assert.equal(r.graph.nodes.find((n) => n.id === "slow")?.status, "cancelled");

  const seen: string[] = [];
  const f = flow({ timeout: "50ms" }, async function* boundedFlow() {
    try {
      yield* wait(slow());
    } catch (e) {
      seen.push((e as Error).name);
      throw e;
    }
  });
  const rf = await run(f, {});
  assert.equal(rf.status, "failed");
  assert.ok(rf.errors[0] instanceof TimeoutError);
  assert.deepEqual(seen, ["CancelledError"]);

  // A built workflow, and onFailure runs on a timeout.
  const notified: string[] = [];
  const notify = task(function notify(error: { name: string }) {
    notified.push(error.name);
  });
  const built = new Workflow("built_bounded", { timeout: 50, onFailure: notify });
  built.addOutput("o", built.addEntity(slow));
  assert.equal((await run(built, {})).status, "failed");
  assert.deepEqual(notified, ["TimeoutError"]);
});

Deno.test("a sub-flow call's own timeout (with({ timeout })) is distinct from a task attempt's", async () => {
  const step = task({ timeout: "5s" }, async function step(ms: number, ctx: TaskContext) {
    await sleep(ms, ctx.signal);
    return ms;
  });
  const child = flow(async function* child(ms: number) {
    yield* wait(step(ms));
    return yield* wait(step(ms));
  });
  const parent = flow(async function* parent() {
    const quick = yield* wait(child.with({ name: "quick", timeout: "2s" })(10));
    try {
      yield* wait(child.with({ name: "slowChild", timeout: "60ms" })(1_000));
    } catch (e) {
      return { quick, caught: (e as TaskFailedError).name, cause: (e as Error).message };
    }
  });
  const r = await run(parent, {});
  assert.equal(r.status, "succeeded", r.errors[0]?.message);
  const out = r.outputs as { quick: number; caught: string; cause: string };
  assert.equal(out.quick, 10);
  assert.equal(out.caught, "TimeoutError");
  assert.match(out.cause, /Flow 'child' \(node 'slowChild'\) timed out after 60 ms/);
});

Deno.test("recursion deeper than maxDepth fails with the chain, saying how to raise it", async () => {
  // deno-lint-ignore no-explicit-any
  const countdown: any = flow(
    async function* countdownBody(n: number): AsyncGenerator<unknown, number, unknown> {
      if (n === 0) return 0;
      const rest: number = yield* wait(countdown(n - 1) as Handle<number>);
      return 1 + rest;
    },
  );
  assert.equal((await run(countdown, { n: 20 })).outputs, 20);
  const r = await run(countdown, { n: 50 }, { maxDepth: 10 });
  assert.equal(r.status, "failed");
  const cause = r.errors.find((e) => e instanceof ValidationError)!;
  assert.match(
    cause.message,
    /would run 11 calls deep \(countdownBody → countdownBody → countdownBody → … → countdownBody → countdownBody → countdownBody → countdownBody\), deeper than this run's limit of 10; make sure the recursion ends, or raise the limit with run\(…, \{ maxDepth \}\) or weft run --max-depth N/,
  );
  await assert.rejects(
    run(countdown, { n: 1 }, { maxDepth: 0 }),
    (e) => e instanceof ValidationError && /'maxDepth' must be a positive integer/.test(e.message),
  );
});

Deno.test("weft run --max-depth sets the recursion limit; a bad one is refused", async () => {
  await using tmp = await tempDir();
  await Deno.writeTextFile(
    `${tmp.dir}/countdown.ts`,
    `import { flow, wait } from "${ROOT}/mod.ts";
// deno-lint-ignore no-explicit-any
export const countdown: any = flow(async function* countdownBody(n: number): AsyncGenerator<unknown, number, unknown> {
  if (n === 0) return 0;
  return 1 + (yield* wait(countdown(n - 1)));
});
`,
  );
  const weft = (...args: string[]) =>
    deno(["run", "-A", `${ROOT}/cli.ts`, "run", `${tmp.dir}/countdown.ts`, ...args], {
      cwd: tmp.dir,
    });
  const deep = await weft("--input", "n=12", "--store", "memory", "--max-depth", "5");
  assert.equal(deep.code, 1, deep.stderr);
  assert.match(deep.stderr, /would run 6 calls deep .* deeper than this run's limit of 5/);
  const ok = await weft("--input", "n=12", "--store", "memory");
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(JSON.parse(ok.stdout), 12);
  const bad = await weft("--input", "n=1", "--store", "memory", "--max-depth", "0");
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--max-depth must be a positive integer, not '0'/);
});

Deno.test("a flow that calls its own raw generator gets an error naming the cause and the fix", async () => {
  const fib = flow(async function* fib(n: number): AsyncGenerator<unknown, number, unknown> {
    if (n < 2) return n;
    // The mistake: inside `async function* fib`, `fib` is the generator function.
    return (yield fib(n - 1)) as number;
  });
  const r = await run(fib, { n: 5 });
  assert.equal(r.status, "failed");
  assert.match(
    r.errors[0]!.message,
    /Flow 'fib' waited for an async generator: a call of a generator function such as its own 'fib\(…\)' inside 'async function\* fib' makes a generator, not a call of the flow .* const fib = flow\(async function\* fibBody\(…\)/,
  );
  // The same through the typed wait and through all().
  const typed = flow(async function* fibT(n: number): AsyncGenerator<unknown, number, unknown> {
    if (n < 2) return n;
    return ((yield* wait(fibT(n - 1) as never)) as number) + 1;
  });
  const fanned = flow(async function* fibA(n: number): AsyncGenerator<unknown, number, unknown> {
    if (n < 2) return n;
    const [a, b] = (yield* all([fibA(n - 1) as never, fibA(n - 2) as never])) as number[];
    return a! + b!;
  });
  for (const [f, name] of [[typed, "fibT"], [fanned, "fibA"]] as const) {
    const rt = await run(f, { n: 5 });
    assert.equal(rt.status, "failed");
    assert.match(
      rt.errors[0]!.message,
      new RegExp(`Flow '${name}' waited for an async generator: .*'${name}\\(…\\)'`),
    );
  }
  const passed = flow(async function* passes(n: number): AsyncGenerator<unknown, number, unknown> {
    const add = task(function add(a: number, b: number) {
      return a + b;
    });
    return yield* wait(add(passes(n) as never, 1));
  });
  const r2 = await run(passed, { n: 1 });
  assert.match(r2.errors[0]!.message, /passed to add\(\) as 'a' an async generator/);
});

Deno.test("onFailure, failurePolicy and timeout are in the IR, round-trip and draw", async () => {
  const notify = task(function notify(error: unknown, inputs: unknown) {
    return [error, inputs];
  });
  const inc = task(function inc(x: number) {
    return x + 1;
  });
  const wf = workflow(
    { onFailure: notify, failurePolicy: "fail-fast", timeout: "1m" },
    function controlled(x: number) {
      return inc(x);
    },
  );
  const [ir] = wf.graph.workflows.filter((w) => w.name === "controlled");
  assert.deepEqual(
    { onFailure: ir!.onFailure, failurePolicy: ir!.failurePolicy, timeoutMs: ir!.timeoutMs },
    { onFailure: { kind: "task", name: "notify" }, failurePolicy: "fail-fast", timeoutMs: 60_000 },
  );
  assert.deepEqual(wf.graph.tasks.map((t) => t.name), ["inc", "notify"]);
  const text = JSON.stringify(wf.graph);
  await validateDag(text);
  const loaded = await fromDag(text, [inc, notify], { workflow: "controlled" });
  const again = loaded.graph.workflows.find((w) => w.name === "controlled")!;
  assert.deepEqual(
    { onFailure: again.onFailure, failurePolicy: again.failurePolicy, timeoutMs: again.timeoutMs },
    { onFailure: { kind: "task", name: "notify" }, failurePolicy: "fail-fast", timeoutMs: 60_000 },
  );
  const dot = await renderDag(wf.graph, "dot");
  assert.match(dot, /label="workflow controlled \(fail-fast, timeout 60000 ms\)"/);
  assert.match(dot, /onFailure\\ntask notify/);
  const broken = JSON.parse(text);
  broken.workflows[0].onFailure = { kind: "task", name: "inc" };
  await assert.rejects(
    validateDag(broken),
    (e) =>
      e instanceof ValidationError &&
      /onFailure of 'controlled' is task 'inc', which is run with \{ error, inputs \} but takes 'x'/
        .test(e.message),
  );
});
