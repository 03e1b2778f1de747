// Shared helpers for tests that run weft in subprocesses.

/** The repository root, as a path. */
export const ROOT: string = new URL("../", import.meta.url).pathname.replace(/\/$/, "");

/** The deno binary running the tests. */
export const DENO: string = Deno.execPath();

/** What a finished subprocess printed. */
export interface Output {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs a command to completion.
 *
 * @param args The arguments after the binary.
 * @param options Working directory, env, stdin text.
 * @returns Exit code and decoded output.
 */
export async function runCommand(
  cmd: string,
  args: string[],
  options: { cwd?: string; env?: Record<string, string>; stdin?: string } = {},
): Promise<Output> {
  const child = new Deno.Command(cmd, {
    args,
    cwd: options.cwd ?? ROOT,
    env: { NO_COLOR: "1", ...options.env },
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (options.stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(options.stdin));
    await w.close();
  }
  const out = await child.output();
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

/** Runs `deno ARGS`. */
export function deno(
  args: string[],
  options: { cwd?: string; env?: Record<string, string>; stdin?: string } = {},
): Promise<Output> {
  return runCommand(DENO, args, options);
}

/**
 * Serves a directory over HTTP on 127.0.0.1 until the returned server shuts down.
 *
 * @param dir The directory.
 * @returns The server and its base URL.
 */
export function serveDirectory(dir: string): { server: Deno.HttpServer; url: string } {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const path = decodeURIComponent(new URL(req.url).pathname);
    if (path.includes("..")) return new Response("bad path", { status: 400 });
    try {
      const body = await Deno.readFile(`${dir}${path}`);
      const type = path.endsWith(".ts") ? "application/typescript" : "application/octet-stream";
      return new Response(body, { headers: { "content-type": type } });
    } catch {
      return new Response("not found", { status: 404 });
    }
  });
  const addr = server.addr as Deno.NetAddr;
  return { server, url: `http://127.0.0.1:${addr.port}` };
}

/**
 * A fresh temporary directory, removed by the returned function.
 *
 * @returns The path and a cleanup function.
 */
export async function tempDir(): Promise<{ dir: string; [Symbol.asyncDispose](): Promise<void> }> {
  const dir = await Deno.makeTempDir({ prefix: "weft_test_" });
  return {
    dir,
    async [Symbol.asyncDispose]() {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

/**
 * Waits `ms` milliseconds, or until the signal aborts (then rejects with its
 * reason), as a task's own cancellable wait does.
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(t);
      reject(signal.reason);
    }, { once: true });
  });
}
