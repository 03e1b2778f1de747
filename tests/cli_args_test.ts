// The CLI's argument parser against `node:util` `parseArgs`, which it
// replaces (the Node compatibility layer is too slow to start for the CLI):
// the same values, positionals and error messages on every argument list
// built from tokens that exercise each rule.

import assert from "node:assert/strict";
import { parseArgs } from "node:util";
import { type OptionSpec, parseCommandArgs, parseStrict, UsageError } from "../src/cli/args.ts";
import { RUN_OPTIONS } from "../src/cli/run.ts";

const TOKENS = [
  "x",
  "-",
  "--",
  "-5",
  "--store",
  "--store=a",
  "--store=",
  "--quiet",
  "--quiet=1",
  "--many",
  "--flag",
  "--no-cache",
  "-q",
  "-s",
  "-m",
  "-qs",
  "-sq",
  "-qsv",
  "-qm",
  "-zq",
  "--=x",
  "--=a=b",
  "---x",
  "--__proto__",
  "--constructor",
  "--toString=1",
  "--input",
  "a=-b",
];

const SHORTS: Record<string, OptionSpec> = {
  quiet: { type: "boolean", short: "q" },
  store: { type: "string", short: "s" },
  many: { type: "string", short: "m", multiple: true },
  flag: { type: "boolean", multiple: true },
  "no-cache": { type: "boolean" },
  input: { type: "string", multiple: true },
};

function outcome(parse: () => { values: unknown; positionals: string[] }): unknown {
  try {
    const { values, positionals } = parse();
    return {
      prototype: Object.getPrototypeOf(values),
      values: { ...values as object },
      positionals,
    };
  } catch (e) {
    return { error: (e as Error).message };
  }
}

function check(args: string[], options: Record<string, OptionSpec>): void {
  const ours = outcome(() => parseStrict(args, options));
  const node = outcome(() => parseArgs({ args, options, strict: true, allowPositionals: true }));
  assert.deepEqual(ours, node, JSON.stringify(args));
}

Deno.test("the argument parser agrees with node:util parseArgs on every list of up to three tokens", () => {
  for (const options of [SHORTS, RUN_OPTIONS]) {
    check([], options);
    for (const a of TOKENS) {
      check([a], options);
      for (const b of TOKENS) {
        check([a, b], options);
        for (const c of TOKENS) check([a, b, c], options);
      }
    }
  }
});

Deno.test("the argument parser agrees with node:util parseArgs on longer lists", () => {
  let seed = 7;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (let i = 0; i < 5_000; i++) {
    const args = Array.from(
      { length: 4 + Math.floor(next() * 5) },
      () => TOKENS[Math.floor(next() * TOKENS.length)]!,
    );
    check(args, next() < 0.5 ? SHORTS : RUN_OPTIONS);
  }
});

Deno.test("usage errors name the command and its help", () => {
  assert.throws(
    () => parseCommandArgs("run", ["--bogus"], RUN_OPTIONS),
    (e) =>
      e instanceof UsageError &&
      e.message === "run: Unknown option '--bogus' (see weft run --help)",
  );
  assert.throws(
    () => parseCommandArgs("run", ["--store"], RUN_OPTIONS),
    /^UsageError: run: Option '--store <value>' argument missing \(see weft run --help\)$/,
  );
  const { values, positionals } = parseCommandArgs("run", [
    "s.ts",
    "--input",
    "a=1",
    "--input=b=2",
    "--quiet",
    "main",
  ], RUN_OPTIONS);
  assert.deepEqual({ ...values }, { input: ["a=1", "b=2"], quiet: true });
  assert.deepEqual(positionals, ["s.ts", "main"]);
});
