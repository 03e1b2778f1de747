// Makes the README's pictures of the web UI (docs/ui_live.png, docs/ui_node.png)
// with a real `weft ui`, a real `weft run` of tests/fixtures/ui_flows.ts and
// headless Chromium:
//
//   deno run -A bench/ui_screenshots.ts

import { chromium } from "npm:playwright-core@1.56.1";

const ROOT = new URL("../", import.meta.url).pathname.replace(/\/$/, "");
const FLOWS = `${ROOT}/tests/fixtures/ui_flows.ts`;
const tmp = await Deno.makeTempDir({ prefix: "weft_ui_shots_" });
const store = `sqlite:${tmp}/weft.db`;
const weft = (args: string[]) =>
  new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}/cli.ts`, ...args],
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).spawn();

// A few finished runs for the list, then the one to watch.
for (
  const [name, args] of [["steps", ["--input", "n=12", "--input", "delay=5"]], ["failing", []]]
) {
  await weft(["run", FLOWS, name as string, ...args as string[], "--store", store]).output();
}
const server = weft(["ui", "--store", store, "--port", "0"]);
const reader = server.stdout.getReader();
let first = "";
while (!first.includes("\n")) first += new TextDecoder().decode((await reader.read()).value);
const origin = new URL(first.trim()).origin;
const profile = await Deno.makeTempDir({ prefix: "weft_chromium_" });
const context = await chromium.launchPersistentContext(profile, {
  executablePath: "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
  viewport: { width: 1280, height: 760 },
});
try {
  const page = context.pages()[0] ?? await context.newPage();
  await page.goto(`${origin}/runs/demo-1`);
  const run = weft([
    "run",
    FLOWS,
    "demo",
    "--input",
    "rounds=3",
    "--input",
    "ms=700",
    "--run-id",
    "demo-1",
    "--store",
    store,
  ]);
  // Mid-run: the first round done, the second running, the third not yet called.
  await page.locator('[data-node-id="merge"][data-state="succeeded"]').waitFor({ timeout: 60_000 });
  await page.locator('[data-node-id="clean_5"][data-state="running"]').waitFor({ timeout: 60_000 });
  await page.locator('[data-node-id="fetchPart_5"]').click();
  await page.locator('.tab-graph .graph-view button[title="fit the graph in view"]').click();
  await page.waitForTimeout(400);
  await page.screenshot({ path: `${ROOT}/docs/ui_live.png` });
  await run.output();
  await page.locator(".run-head .badge.succeeded").waitFor({ timeout: 60_000 });
  await page.locator('.tab-graph .graph-view button[title="fit the graph in view"]').click();
  await page.locator('[data-node-id="fetchPart_10"]').click();
  await page.locator('[data-panel="node"] [data-log]').waitFor();
  await page.waitForTimeout(400);
  await page.screenshot({ path: `${ROOT}/docs/ui_node.png` });
  console.log("wrote docs/ui_live.png and docs/ui_node.png");
} finally {
  await context.close();
  server.kill("SIGINT");
  await server.status;
  await Deno.remove(profile, { recursive: true }).catch(() => {});
  await Deno.remove(tmp, { recursive: true }).catch(() => {});
}
