// Cancellation inside flows: CancelledError at the await point, in both wait
// forms; cleanup in a non-cancellable scope; rethrow; a flow that ignores it.
import assert from "node:assert/strict";
import { CancelledError, flow, nonCancellable, run, task, type TaskContext, wait } from "../mod.ts";

import { sleep } from "./_helpers.ts";

/** Aborts once the named task has started, so that tests do not race a timer. */
function abortWhenStarted(name: string): {
  signal: AbortSignal;
  onEvent: (e: { type: string; nodeId?: string }) => void;
} {
  const controller = new AbortController();
  return {
    signal: controller.signal,
    onEvent: (e) => {
      if (e.type === "node started" && e.nodeId === name) setTimeout(() => controller.abort(), 5);
    },
  };
}

// Ported from Temporal's TypeScript SDK, packages/test/src/workflows/
// handle-external-workflow-cancellation-while-activity-running.ts and its test
// 'handleExternalWorkflowCancellationWhileActivityRunning' in test-workflows.ts:
// the workflow posts (url, data); cancelled meanwhile, it catches the
// cancellation, runs cleanup(url) in a non-cancellable scope, and rethrows; the
// expected commands are: cancel activity 1, schedule 'cleanup' with the url,
// then cancel the workflow execution.
Deno.test("Temporal: a cancelled flow catches CancelledError at yield* wait, cleans up, rethrows", async () => {
  const url = "https://temporal.io";
  const data = { content: "new HTML content" };
  const cleanedUp: string[] = [];
  let caught: unknown;
  const httpPostJSON = task(
    async function httpPostJSON(url: string, data: unknown, ctx: TaskContext) {
      await sleep(10_000, ctx.signal);
      return { url, data };
    },
  );
  const cleanup = task(function cleanup(url: string) {
    cleanedUp.push(url);
  });
  const handleCancellation = flow(
    async function* handleCancellation(url: string, data: unknown) {
      try {
        yield* wait(httpPostJSON(url, data));
      } catch (err) {
        caught = err;
        if (err instanceof CancelledError) {
          yield* nonCancellable(async function* () {
            yield* wait(cleanup(url));
          });
        }
        throw err;
      }
    },
  );
  const r = await run(handleCancellation, { url, data }, abortWhenStarted("httpPostJSON"));
  assert.equal(r.status, "cancelled");
  assert.ok(caught instanceof CancelledError, `caught ${caught}`);
  assert.deepEqual(cleanedUp, [url]);
  const nodes = Object.fromEntries(r.graph.nodes.map((n) => [n.id, n.status]));
  assert.deepEqual(nodes, { httpPostJSON: "cancelled", cleanup: "succeeded" });
});

Deno.test("the untyped `yield h` receives CancelledError in catch too", async () => {
  let caught: unknown;
  const slowStep = task(async function slowStep(ctx: TaskContext) {
    await sleep(10_000, ctx.signal);
    return 1;
  });
  const note = task(function note(what: string) {
    return what;
  });
  const f = flow(async function* untypedWait() {
    try {
      yield slowStep();
    } catch (err) {
      caught = err;
      yield* nonCancellable(async function* () {
        yield* wait(note("cleaned"));
      });
      throw err;
    }
  });
  const r = await run(f, {}, abortWhenStarted("slowStep"));
  assert.equal(r.status, "cancelled");
  assert.ok(caught instanceof CancelledError);
  assert.equal(r.graph.nodes.find((n) => n.id === "note")?.status, "succeeded");
});

Deno.test("calling a task after the cancellation outside nonCancellable says how to clean up", async () => {
  let message = "";
  const slowStep = task(async function slowStep(ctx: TaskContext) {
    await sleep(10_000, ctx.signal);
  });
  const note = task(function note() {});
  const f = flow(async function* noShield() {
    try {
      yield* wait(slowStep());
    } catch (err) {
      try {
        note();
      } catch (e) {
        message = (e as Error).message;
      }
      throw err;
    }
  });
  const r = await run(f, {}, abortWhenStarted("slowStep"));
  assert.equal(r.status, "cancelled");
  assert.match(message, /cancelled; to call tasks while cleaning up .* nonCancellable/);
});

// Ported from Temporal's TypeScript SDK test 'nonCancellableAwaitedInRootScope'
// (test-workflows.ts, workflow shield-awaited-in-root-scope.ts): the workflow
// awaits httpGetJSON("http://example.com") inside a non-cancellable scope; a
// cancellation meanwhile changes nothing ("Workflow ignores cancellation") and
// the workflow completes with the activity's result { some: "data" }.
Deno.test("Temporal: work inside nonCancellable survives the cancellation and the flow completes", async () => {
  const httpGetJSON = task(async function httpGetJSON(url: string, ctx: TaskContext) {
    await sleep(60);
    assert.ok(!ctx.signal.aborted, "a shielded task's signal is not aborted");
    return url === "http://example.com" ? { some: "data" } : null;
  });
  const shieldAwaitedInRootScope = flow(async function* shieldAwaitedInRootScope() {
    return yield* nonCancellable(async function* () {
      return yield* wait(httpGetJSON("http://example.com"));
    });
  });
  const r = await run(shieldAwaitedInRootScope, {}, abortWhenStarted("httpGetJSON"));
  assert.equal(r.status, "succeeded");
  assert.deepEqual(r.outputs, { some: "data" });
});

Deno.test("a cancelled flow that waits again outside nonCancellable is stopped; finally runs", async () => {
  const log: string[] = [];
  const slowStep = task(async function slowStep(i: number, ctx: TaskContext) {
    await sleep(10_000, ctx.signal);
    return i;
  });
  const f = flow(async function* stubborn() {
    try {
      for (let i = 0; i < 3; i++) {
        try {
          yield* wait(slowStep(i));
        } catch (e) {
          log.push(`caught ${(e as Error).name}`);
        }
        yield* wait(i); // a second await point after the cancellation: stopped here
        log.push(`after ${i}`);
      }
    } finally {
      log.push("finally");
    }
  });
  const r = await run(f, {}, abortWhenStarted("slowStep"));
  assert.equal(r.status, "cancelled");
  assert.deepEqual(log, ["caught CancelledError", "finally"]);
});

Deno.test("a nested flow receives the cancellation too, and its parent sees it", async () => {
  const log: string[] = [];
  const slowStep = task(async function slowStep(ctx: TaskContext) {
    await sleep(10_000, ctx.signal);
  });
  const inner = flow(async function* inner() {
    try {
      yield* wait(slowStep());
    } catch (e) {
      log.push(`inner ${(e as Error).name}`);
      throw e;
    }
  });
  const outer = flow(async function* outer() {
    try {
      yield* wait(inner());
    } catch (e) {
      log.push(`outer ${(e as Error).name}`);
      throw e;
    }
  });
  const r = await run(outer, {}, abortWhenStarted("inner/slowStep"));
  assert.equal(r.status, "cancelled");
  assert.deepEqual(log.sort(), ["inner CancelledError", "outer CancelledError"]);
});
