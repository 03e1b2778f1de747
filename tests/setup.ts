/**
 * Makes sure the programs the end-to-end tests drive for real are installed,
 * before `deno task test` runs the suite: Graphviz (`dot`), Chromium
 * (`/usr/bin/chromium`), tmux, util-linux (`setsid`, `unshare`, `runuser`),
 * `mount`, iproute2 (`ip`) and PostgreSQL 15's server binaries
 * (`/usr/lib/postgresql/15/bin`). What is missing is installed
 * with apt-get — directly as root, through sudo otherwise — so that the
 * suite passes on a fresh Debian machine that has only Node.js and npm
 * (`npx -y deno@2.9.6 task test`). Where that cannot be done, it says what
 * to install and exits 1. With everything present it prints nothing.
 *
 * `WEFT_SKIP_SETUP=1` skips it (the tests that need a missing program then
 * fail, saying which).
 *
 * @module
 */

/** A program the tests run, and the Debian package that has it. */
export interface Requirement {
  /** What the tests use it for. */
  why: string;
  /** A command name looked up on PATH, or an absolute path. */
  program: string;
  /** The Debian package that installs it. */
  apt: string;
}

/** What the suite needs. */
export const REQUIREMENTS: readonly Requirement[] = [
  { why: "Graphviz renders the DOT exports", program: "dot", apt: "graphviz" },
  { why: "headless Chromium opens the HTML pages", program: "/usr/bin/chromium", apt: "chromium" },
  { why: "tmux drives the live progress view", program: "tmux", apt: "tmux" },
  { why: "setsid kills a run with its process group", program: "setsid", apt: "util-linux" },
  { why: "unshare mounts read-only stores", program: "unshare", apt: "util-linux" },
  { why: "mount makes a read-only bind mount", program: "mount", apt: "mount" },
  { why: "ip makes network namespaces", program: "ip", apt: "iproute2" },
  { why: "runuser starts PostgreSQL as its own user", program: "runuser", apt: "util-linux" },
  {
    why: "the PostgreSQL store's tests start a private cluster (tests/_postgres.ts)",
    program: "/usr/lib/postgresql/15/bin/initdb",
    apt: "postgresql-15",
  },
];

/**
 * Whether a program is installed: an absolute path that exists, or a name
 * found in a directory of PATH.
 *
 * @param program A name or an absolute path.
 * @returns True when it is there.
 */
export function installed(program: string): boolean {
  const candidates = program.startsWith("/")
    ? [program]
    : (Deno.env.get("PATH") ?? "").split(":").filter((d) => d !== "").map((d) => `${d}/${program}`);
  for (const path of candidates) {
    try {
      if (Deno.statSync(path).isFile) return true;
    } catch {
      // not here
    }
  }
  return false;
}

async function sh(cmd: string[]): Promise<boolean> {
  const status = await new Deno.Command(cmd[0]!, {
    args: cmd.slice(1),
    stdin: "inherit",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn().status;
  return status.success;
}

async function main(): Promise<number> {
  if (Deno.env.get("WEFT_SKIP_SETUP") === "1") return 0;
  const missing = REQUIREMENTS.filter((r) => !installed(r.program));
  if (missing.length === 0) return 0;
  const packages = [...new Set(missing.map((r) => r.apt))];
  const list = missing.map((r) => `  ${r.program} (${r.apt}): ${r.why}`).join("\n");
  const manual = `apt-get install -y --no-install-recommends ${packages.join(" ")}`;
  const say = (text: string) => console.error(`weft tests: ${text}`);
  say(`missing:\n${list}`);
  if (Deno.build.os !== "linux" || !installed("apt-get")) {
    say(
      `install these with your package manager and run the tests again (or set WEFT_SKIP_SETUP=1 to run without them; the tests that need them fail)`,
    );
    return 1;
  }
  const root = Deno.uid() === 0;
  let prefix: string[] = [];
  if (!root) {
    if (!installed("sudo")) {
      say(`run as root: ${manual}`);
      return 1;
    }
    // sudo may ask for a password on a terminal; elsewhere it must not wait for one.
    prefix = Deno.stdin.isTerminal() ? ["sudo"] : ["sudo", "-n"];
  }
  say(`installing ${packages.join(", ")} with apt-get${root ? "" : " (through sudo)"}`);
  // Through env, since sudo does not pass the environment on.
  const apt = [...prefix, "env", "DEBIAN_FRONTEND=noninteractive", "apt-get"];
  const ok = await sh([...apt, "update", "-qq"]) &&
    await sh([...apt, "install", "-y", "-qq", "--no-install-recommends", ...packages]);
  const still = REQUIREMENTS.filter((r) => !installed(r.program));
  if (!ok || still.length > 0) {
    say(
      `could not install ${
        still.map((r) => r.apt).join(", ") || packages.join(", ")
      }; run as root: ${manual}`,
    );
    return 1;
  }
  return 0;
}

if (import.meta.main) Deno.exit(await main());
