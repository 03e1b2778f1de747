// Helpers of the web UI tests: a real `weft ui` server in a subprocess, a
// real `weft run` in another, and headless Chromium driven by playwright.

import { type BrowserContext, chromium, type Page } from "npm:playwright-core@1.56.1";
import { DENO, ROOT } from "./_helpers.ts";

/** The flags the suite starts Chromium with. */
export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** A `weft ui` process. */
export interface UiProcess {
  /** The URL it printed. */
  url: string;
  /** Its origin, `http://127.0.0.1:PORT`. */
  origin: string;
  /** What it wrote on stderr so far. */
  stderr(): string;
  /** Stops it (SIGINT, as Ctrl-C) and waits. */
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Starts `weft ui ARGS --port 0` and waits for the URL it prints.
 *
 * @param args Its arguments (the store, a script, --host…).
 * @param cwd Its working directory.
 * @param env More environment variables.
 * @returns The process.
 */
export async function startUi(
  args: string[],
  cwd = ROOT,
  env: Record<string, string> = {},
): Promise<UiProcess> {
  const child = new Deno.Command(DENO, {
    args: ["run", "-A", `${ROOT}/cli.ts`, "ui", "--port", "0", ...args],
    cwd,
    env: { NO_COLOR: "1", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let err = "";
  const errDone = (async () => {
    const d = new TextDecoder();
    for await (const chunk of child.stderr) err += d.decode(chunk, { stream: true });
  })();
  const reader = child.stdout.getReader();
  let out = "";
  const d = new TextDecoder();
  while (!out.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) {
      await child.status;
      await errDone;
      throw new Error(`weft ui ended without a URL: ${err}`);
    }
    out += d.decode(value, { stream: true });
  }
  const outDone = (async () => {
    while (!(await reader.read()).done) {
      // drain
    }
  })();
  const url = out.split("\n")[0]!.trim();
  return {
    url,
    origin: new URL(url).origin,
    stderr: () => err,
    async [Symbol.asyncDispose]() {
      try {
        child.kill("SIGINT");
      } catch {
        // already gone
      }
      await child.status;
      await outDone;
      await errDone;
    },
  };
}

/** A `weft run` process in the background. */
export interface RunProcess {
  /** Whether it has ended. */
  ended(): boolean;
  /** Waits for it: exit code and output. */
  result(): Promise<{ code: number; stdout: string; stderr: string }>;
  /** Kills it if it still runs, and waits. */
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Starts `weft ARGS` (such as `run SCRIPT NAME --store S`) in the background.
 *
 * @param args The command and its arguments.
 * @returns The process.
 */
export function startWeft(args: string[]): RunProcess {
  const child = new Deno.Command(DENO, {
    args: ["run", "-A", `${ROOT}/cli.ts`, ...args],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let ended = false;
  const output = child.output().then((o) => {
    ended = true;
    return {
      code: o.code,
      stdout: new TextDecoder().decode(o.stdout),
      stderr: new TextDecoder().decode(o.stderr),
    };
  });
  return {
    ended: () => ended,
    result: () => output,
    async [Symbol.asyncDispose]() {
      if (!ended) {
        try {
          child.kill("SIGKILL");
        } catch {
          // already gone
        }
      }
      await output;
    },
  };
}

/** Headless Chromium with a fresh profile and one page. */
export interface Browser {
  /** The context. */
  context: BrowserContext;
  /** Its page. */
  page: Page;
  /** Dialogs the page opened (alert, confirm…): there must be none. */
  dialogs: string[];
  /** Errors the page's scripts threw. */
  errors: string[];
  /** Closes the browser and removes its profile. */
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Starts headless Chromium.
 *
 * @returns The browser with one page.
 */
export async function browser(): Promise<Browser> {
  const { context, [Symbol.asyncDispose]: close } = await chromiumContext(
    { width: 1280, height: 800 },
    15_000,
  );
  const page = context.pages()[0] ?? await context.newPage();
  const dialogs: string[] = [];
  const errors: string[] = [];
  page.on("dialog", (d) => {
    dialogs.push(d.message());
    d.dismiss().catch(() => {});
  });
  page.on("pageerror", (e) => errors.push(e.message));
  return {
    context,
    page,
    dialogs,
    errors,
    [Symbol.asyncDispose]: close,
  };
}

/**
 * Starts headless Debian Chromium with a fresh profile.
 *
 * @param viewport The page size.
 * @param timeoutMs The default timeout of its actions.
 * @returns The context; disposing of it closes Chromium and removes the profile.
 */
export async function chromiumContext(
  viewport: { width: number; height: number },
  timeoutMs = 10_000,
): Promise<{ context: BrowserContext; [Symbol.asyncDispose](): Promise<void> }> {
  const profile = await Deno.makeTempDir({ prefix: "weft_chromium_" });
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: CHROMIUM_ARGS,
    viewport,
  });
  context.setDefaultTimeout(timeoutMs);
  return {
    context,
    async [Symbol.asyncDispose]() {
      await context.close();
      await Deno.remove(profile, { recursive: true }).catch(() => {});
    },
  };
}

/**
 * Waits until `check` returns a value that is not undefined, or fails after `ms`.
 *
 * @param what What is awaited, for the message.
 * @param check The condition.
 * @param ms The most to wait.
 * @returns The value.
 */
export async function until<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  ms = 30_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ""}`);
}

/**
 * Waits until an expression is true in the page. Playwright's own
 * `waitForFunction` polls by `eval` inside the page, which the UI's
 * Content-Security-Policy forbids (it works only when the first try is
 * already true); `page.evaluate` goes through the debugger protocol instead.
 *
 * @param page The page.
 * @param expression JavaScript evaluated in the page.
 * @param ms The most to wait.
 */
export async function pageUntil(page: Page, expression: string, ms = 30_000): Promise<void> {
  await until(expression, async () => (await page.evaluate(expression)) ? true : undefined, ms);
}

/** The fixture the UI tests run. */
export const FLOWS = `${ROOT}/tests/fixtures/ui_flows.ts`;

/**
 * The arguments of `weft run` for the fixture's `steps` flow.
 *
 * @param n How many steps.
 * @param delay How long each takes (ms).
 * @param store The `--store` value.
 * @param more More arguments (`--run-id`, `--ui`…).
 * @returns The arguments, from `run`.
 */
export function stepsRun(n: number, delay: number, store: string, ...more: string[]): string[] {
  return [
    "run",
    FLOWS,
    "steps",
    "--input",
    `n=${n}`,
    "--input",
    `delay=${delay}`,
    "--store",
    store,
    ...more,
  ];
}
