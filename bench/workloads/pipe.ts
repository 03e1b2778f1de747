// The floor of weft run's flush: one round trip between a Deno parent and a
// Deno child over their pipes, framed as weft frames it (the child writes a
// marked JSON line on stdout with one synchronous write; the parent reads
// its stdout stream, parses the frame and answers with a JSON line written
// to the child's stdin; the child reads stdin with Deno.stdin.read). No
// store, no engine: what a durable step through `weft run` cannot go below
// without changing the channel. Beside it, two channels weft does not use,
// to show where the time goes: the child reading stdin synchronously
// (which blocks its thread, so weft cannot), and the answers on a Unix
// socket (epoll in the child's own thread; it needs a net grant).

const FIXTURE = new URL("../fixtures/pipe_child.ts", import.meta.url).pathname;

/** How the child reads the answers. */
export type PipeChannel = "async" | "sync" | "socket";

/**
 * Round trips between a parent and a child process.
 *
 * @param n How many.
 * @param how How the child reads the answers.
 * @returns Microseconds per round trip, as the child measured them.
 */
export async function pipeRoundTrip(n: number, how: PipeChannel = "async"): Promise<number> {
  const dir = how === "socket" ? await Deno.makeTempDir({ prefix: "weft_pipe_" }) : undefined;
  const path = `${dir}/s`;
  const listener = dir === undefined ? undefined : Deno.listen({ transport: "unix", path });
  try {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", FIXTURE, String(n), how, ...(dir === undefined ? [] : [path])],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const socket = listener === undefined ? undefined : await listener.accept();
    const writer = child.stdin.getWriter();
    const encoder = new TextEncoder();
    const decoder = new TextDecoder();
    let buffer = "";
    let us = NaN;
    for await (const chunk of child.stdout) {
      buffer += decoder.decode(chunk, { stream: true });
      for (let nl = buffer.indexOf("\n"); nl >= 0; nl = buffer.indexOf("\n")) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        const m = JSON.parse(line.slice(line.indexOf(":", 6) + 1));
        if (m.t === "done") {
          us = m.us;
          continue;
        }
        const reply = encoder.encode(
          `${JSON.stringify({ t: "reply", id: m.id, m: { t: "synced" } })}\n`,
        );
        if (socket !== undefined) socket.write(reply).catch(() => {});
        else writer.write(reply).catch(() => {});
      }
    }
    await child.status;
    await writer.close().catch(() => {});
    socket?.close();
    if (Number.isNaN(us)) throw new Error(`the pipe child (${how}) reported nothing`);
    return us;
  } finally {
    listener?.close();
    if (dir !== undefined) await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/**
 * {@linkcode pipeRoundTrip} in a process of its own with every permission
 * (the bench suite holds no net grant, which a Unix socket needs).
 *
 * @param n How many round trips.
 * @param how How the child reads the answers.
 * @returns Microseconds per round trip.
 */
export async function pipeFloor(n: number, how: PipeChannel): Promise<number> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL(import.meta.url).pathname, String(n), how],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  const us = Number(new TextDecoder().decode(out.stdout).trim().split(" ")[1]);
  if (!out.success || Number.isNaN(us)) throw new Error(`the pipe floor (${how}) failed`);
  return us;
}

if (import.meta.main) {
  // deno run -A bench/workloads/pipe.ts [N] [async|sync|socket]
  const n = Number(Deno.args[0] ?? 5000);
  const channels = Deno.args[1] === undefined ? ["async", "sync", "socket"] as const : [
    Deno.args[1] as PipeChannel,
  ];
  for (const how of channels) {
    console.log(`${how}: ${(await pipeRoundTrip(n, how)).toFixed(1)} µs per round trip`);
  }
}
