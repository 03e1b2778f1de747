// Retry policies as Temporal and DBOS users expect them.
import assert from "node:assert/strict";
import { run, task, type TaskContext, TaskFailedError, ValidationError } from "../mod.ts";
import { toDag, validateDag } from "../ir.ts";

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

// Ported from Temporal's features repository, features/activity/retry_on_error:
// an activity that always fails, with { initialInterval: "1 millisecond",
// backoffCoefficient: 1, maximumAttempts: 5 }; the workflow fails and the
// cause is the fifth attempt's error, "activity attempt 5 failed".
Deno.test("Temporal: retry_on_error makes five attempts without backoff", async () => {
  const delays: number[] = [];
  const alwaysFailActivity = task(
    { name: "alwaysFailActivity", retries: 4, retryDelay: "1ms", backoff: 1 },
    (ctx: TaskContext) => {
      throw new Error(`activity attempt ${ctx.attempt} failed`);
    },
  );
  const r = await run(alwaysFailActivity, {}, {
    onEvent: (e) => e.type === "node retrying" && delays.push(e.delayMs),
  });
  assert.equal(r.status, "failed");
  const error = r.errors[0]!;
  assert.ok(error instanceof TaskFailedError);
  assert.equal(error.attempt, 5);
  assert.equal((error.cause as Error).message, "activity attempt 5 failed");
  assert.equal(delays.length, 4);
  for (const d of delays) assert.ok(d >= 1 && d <= 2, `${delays}`);
});

Deno.test("backoff multiplies each delay, maxRetryDelay caps it, jitter 0 keeps it exact", async () => {
  const delays: number[] = [];
  const fails = task(
    { name: "fails", retries: 4, retryDelay: 10, backoff: 3, maxRetryDelay: 50, jitter: 0 },
    (): number => {
      throw new Error("x");
    },
  );
  await run(fails, {}, { onEvent: (e) => e.type === "node retrying" && delays.push(e.delayMs) });
  assert.deepEqual(delays, [10, 30, 50, 50]);
});

Deno.test("jitter adds at most its fraction and never passes maxRetryDelay", async () => {
  const delays: number[] = [];
  const fails = task(
    { name: "fails", retries: 5, retryDelay: 20, backoff: 2, maxRetryDelay: 100, jitter: 0.5 },
    (): number => {
      throw new Error("x");
    },
  );
  await run(fails, {}, { onEvent: (e) => e.type === "node retrying" && delays.push(e.delayMs) });
  const bases = [20, 40, 80, 100, 100];
  delays.forEach((d, i) => {
    assert.ok(d >= bases[i]! && d <= Math.min(bases[i]! * 1.5, 100), `${delays}`);
  });
});

class QuotaExceeded extends Error {
  override name = "QuotaExceeded";
}

Deno.test("nonRetryable error classes fail at once; other errors are retried", async () => {
  let calls = 0;
  const charge = task(
    { name: "charge", retries: 5, retryDelay: 0, nonRetryable: [QuotaExceeded, TypeError] },
    (kind: string) => {
      calls++;
      if (kind === "quota") throw new QuotaExceeded("over quota");
      if (kind === "type") throw new TypeError("bad card");
      if (kind === "named") {
        // An error rebuilt from another thread keeps only its name.
        const e = new Error("over quota, from a Worker");
        e.name = "QuotaExceeded";
        throw e;
      }
      if (calls < 3) throw new Error("network");
      return "ok";
    },
  );
  for (const kind of ["quota", "type", "named"]) {
    calls = 0;
    const r = await run(charge, { kind });
    assert.equal(r.status, "failed");
    assert.equal(calls, 1, kind);
    assert.equal(r.errors[0]!.attempt, 1);
  }
  calls = 0;
  assert.equal((await run(charge, { kind: "transient" })).outputs, "ok");
  assert.equal(calls, 3);
});

Deno.test("retryIf decides from the error; a predicate that throws means no retry", async () => {
  let calls = 0;
  const fetchStatus = task(
    {
      name: "fetchStatus",
      retries: 3,
      retryDelay: 0,
      retryIf: (e) => (e as { status?: number }).status !== 404,
    },
    (status: number) => {
      calls++;
      throw Object.assign(new Error(`HTTP ${status}`), { status });
    },
  );
  calls = 0;
  assert.equal((await run(fetchStatus, { status: 404 })).status, "failed");
  assert.equal(calls, 1);
  calls = 0;
  await run(fetchStatus, { status: 503 });
  assert.equal(calls, 4);
  const broken = task({
    name: "broken",
    retries: 3,
    retryDelay: 0,
    retryIf: () => {
      throw new Error("predicate bug");
    },
  }, () => {
    calls++;
    throw new Error("x");
  });
  calls = 0;
  await run(broken, {});
  assert.equal(calls, 1);
});

Deno.test("retries: Infinity retries until the retryDeadline leaves no time, then says so", async () => {
  let calls = 0;
  const flaky = task(
    { name: "flaky", retries: Infinity, retryDelay: 20, backoff: 1, retryDeadline: "150ms" },
    () => {
      calls++;
      throw new Error("still down");
    },
  );
  const start = Date.now();
  const r = await run(flaky, {});
  assert.equal(r.status, "failed");
  assert.ok(calls >= 2, `${calls} attempts`);
  assert.ok(Date.now() - start < 5_000);
  assert.match(
    r.errors[0]!.message,
    /failed after \d+ attempts; its retryDeadline of 150 ms leaves no time for another attempt: still down/,
  );
  let n = 0;
  const eventually = task({ name: "eventually", retries: Infinity, retryDelay: 0 }, () => {
    if (++n < 50) throw new Error("not yet");
    return n;
  });
  assert.equal((await run(eventually, {})).outputs, 50);
});

Deno.test("retry options are checked when the task is defined", () => {
  const bad: [Record<string, unknown>, RegExp][] = [
    [{ retries: -1 }, /'retries' must be a non-negative integer or Infinity/],
    [{ retries: 1.5 }, /'retries' must be a non-negative integer or Infinity/],
    [{ backoff: 0.5 }, /'backoff' must be a number of at least 1/],
    [{ retryDelay: "2s", maxRetryDelay: "1s" }, /maxRetryDelay .* is shorter than its retryDelay/],
    [{ jitter: 2 }, /'jitter' must be a fraction from 0 to 1/],
    [{ retryDeadline: 0 }, /retryDeadline of task 't'/],
    [{ retryIf: true }, /'retryIf' option of task 't' must be a function/],
    [
      { nonRetryable: ["TypeError"] },
      /'nonRetryable' option of task 't' must be a list of error classes/,
    ],
  ];
  for (const [options, message] of bad) {
    assert.throws(
      () => task({ name: "t", ...options } as never, () => 1),
      (e) => e instanceof ValidationError && message.test(e.message),
      JSON.stringify(options),
    );
  }
});

Deno.test("the IR's task table carries the retry policy, and a document with it validates", async () => {
  const t = task(
    {
      name: "policy",
      retries: Infinity,
      retryDelay: 0,
      backoff: 1.5,
      maxRetryDelay: "10s",
      jitter: 0,
      retryDeadline: "1m",
      retryIf: () => true,
      nonRetryable: [QuotaExceeded],
    },
    (x: number) => x,
  );
  const dag = toDag([t]);
  const row = dag.tasks[0]!;
  assert.equal(row.retries, "unlimited");
  assert.equal(row.retryDelayMs, 0);
  assert.equal(row.backoff, 1.5);
  assert.equal(row.maxRetryDelayMs, 10_000);
  assert.equal(row.jitter, 0);
  assert.equal(row.retryDeadlineMs, 60_000);
  assert.equal(row.retryIf, true);
  assert.deepEqual(row.nonRetryable, ["QuotaExceeded"]);
  assert.deepEqual(await validateDag(JSON.stringify(dag)), dag);
});
