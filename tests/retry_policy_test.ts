// Retry policies as Temporal and DBOS users expect them.
import assert from "node:assert/strict";
import { run, task, type TaskContext, TaskFailedError, ValidationError } from "../mod.ts";

// Ported from DBOS Transact (TypeScript), tests/failures.test.ts,
// "failing-communicator": a step with { intervalSeconds: 1, maxAttempts: 2 }
// that succeeds when its counter reaches maxAttempts resolves to 2 after at
// least 1000 ms; called again (counter 3, 4) it fails after its last attempt,
// again no sooner than 1000 ms.
Deno.test("DBOS: retryDelay is the delay, never shortened by jitter", async () => {
  let cnt = 0;
  const maxAttempts = 2;
  const testFailCommunicator = task(
    { name: "testFailCommunicator", retries: maxAttempts - 1, retryDelay: "1s" },
    () => {
      cnt++;
      if (cnt !== maxAttempts) throw new Error("bad number");
      return cnt;
    },
  );
  let start = Date.now();
  const first = await run(testFailCommunicator, {});
  assert.equal(first.outputs, 2);
  assert.ok(Date.now() - start >= 1000, `retried after ${Date.now() - start} ms`);

  start = Date.now();
  const second = await run(testFailCommunicator, {});
  assert.equal(second.status, "failed");
  assert.ok(second.errors[0] instanceof TaskFailedError);
  assert.match(second.errors[0]!.message, /failed after 2 attempts: bad number/);
  assert.ok(Date.now() - start >= 1000, `retried after ${Date.now() - start} ms`);
});

// Ported from DBOS Transact (TypeScript), tests/failures.test.ts at an earlier
// version: a step with { intervalSeconds: 0, maxAttempts: 4 } retries at once;
// the first call resolves to 4 (its counter reaches maxAttempts on the fourth
// attempt), the second call (counter 5 to 8) fails after four attempts.
Deno.test("DBOS: retryDelay 0 retries at once", async () => {
  let cnt = 0;
  const delays: number[] = [];
  const testFailCommunicator = task(
    { name: "testFailCommunicator0", retries: 3, retryDelay: 0 },
    (ctx: TaskContext) => {
      cnt++;
      if (cnt !== 4) throw new Error(`bad number (attempt ${ctx.attempt})`);
      return cnt;
    },
  );
  const onEvent = (e: { type: string; delayMs?: number }) => {
    if (e.type === "node retrying") delays.push(e.delayMs!);
  };
  assert.equal((await run(testFailCommunicator, {}, { onEvent })).outputs, 4);
  assert.deepEqual(delays, [0, 0, 0]);
  const second = await run(testFailCommunicator, {});
  assert.equal(second.status, "failed");
  assert.match(second.errors[0]!.message, /failed after 4 attempts: bad number \(attempt 4\)/);
  assert.equal(cnt, 8);
});

Deno.test("retryDelay must be a non-negative duration", () => {
  assert.throws(
    () => task({ name: "t", retryDelay: -1 }, () => 1),
    (e) => e instanceof ValidationError && /retryDelay of task 't'.*non-negative/.test(e.message),
  );
  assert.doesNotThrow(() => task({ name: "t", retryDelay: "0ms" }, () => 1));
});
