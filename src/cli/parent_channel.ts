/**
 * The run child's channel to its parent, on the child's side: protocol
 * frames out on stdout, the parent's lines in on stdin.
 *
 * The script's code shares stdout (its own output goes there, from any of
 * the process's threads), so each frame carries the run's token, which the
 * parent made and sent on stdin before any of the script's code ran, and
 * which only this module holds; the parent ignores frames without it. A
 * frame is written whole in one write of at most 4,000 bytes (pipes write
 * that atomically), so output of other threads cannot land inside it;
 * longer messages are cut into several frames. The functions that write
 * (`Deno.stdout.writeSync`, the encoder) are captured when this module
 * loads, before the script is imported, so that a script that replaces
 * them sees no token.
 *
 * @module
 */

import { FRAME, FRAME_MAX } from "./protocol.ts";

const writeSync = Deno.stdout.writeSync.bind(Deno.stdout);
const encoder = new TextEncoder();
const encodeInto = encoder.encodeInto.bind(encoder);
const stringify = JSON.stringify;
const buffer = new Uint8Array(FRAME_MAX + 64);

/** Non-ASCII as `\uNNNN`, so that a frame's length in bytes is its length in characters. */
// deno-lint-ignore no-control-regex
const NON_ASCII = /[^\u0000-\u007f]/g;

function ascii(json: string): string {
  return json.replace(NON_ASCII, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** The child's end of the channel. */
export class ParentChannel {
  readonly #token: string;
  #queue: string[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** True once the parent is gone (a write failed). */
  broken = false;
  /** Called once when the parent is found gone. */
  onBroken: () => void = () => {};

  /**
   * @param token The run's token (from the spec on stdin).
   */
  constructor(token: string) {
    this.#token = token;
  }

  /**
   * Sends a message: at once when `urgent` (the parent waits on it), else
   * batched for up to 20 ms with what follows (progress, events).
   *
   * @param message Any JSON value.
   * @param urgent Write now.
   */
  send(message: unknown, urgent = false): void {
    if (this.broken) return;
    this.#queue.push(ascii(stringify(message)));
    if (urgent) this.flush();
    else this.#timer ??= setTimeout(() => this.flush(), 20);
  }

  /** Writes everything queued. */
  flush(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    const queue = this.#queue;
    this.#queue = [];
    for (const json of queue) {
      if (this.broken) return;
      this.#frames(json);
    }
  }

  /** One message as frames: `FRAME token +chunk` for each part but the last, `FRAME token :chunk`. */
  #frames(json: string): void {
    const head = `${FRAME}${this.#token}`;
    const room = FRAME_MAX - head.length - 2;
    for (let at = 0; at < json.length || at === 0; at += room) {
      const last = at + room >= json.length;
      this.#write(`${head}${last ? ":" : "+"}${json.slice(at, at + room)}\n`);
      if (last) break;
    }
  }

  #write(frame: string): void {
    const { written } = encodeInto(frame, buffer);
    try {
      let done = 0;
      while (done < written) done += writeSync(buffer.subarray(done, written));
    } catch {
      // The parent is gone: a failing writer must never fail a task.
      this.broken = true;
      this.onBroken();
    }
  }
}

/**
 * Reads the parent's lines from stdin: the spec first, then commands and
 * answers; EOF means the parent is gone.
 *
 * @param onLine Each line (parsed JSON).
 * @param onEnd The parent is gone.
 * @param initial Text already read from stdin (by the thread that read the spec).
 */
export function readParent(
  onLine: (message: unknown) => void,
  onEnd: () => void,
  initial = "",
): void {
  (async () => {
    // Deno.stdin.read, not Deno.stdin.readable: the first web stream a
    // process makes costs a few milliseconds to set up.
    const decoder = new TextDecoder();
    const chunk = new Uint8Array(1 << 16);
    let text = initial;
    const lines = () => {
      let nl: number;
      while ((nl = text.indexOf("\n")) >= 0) {
        const line = text.slice(0, nl);
        text = text.slice(nl + 1);
        if (line.trim() !== "") onLine(JSON.parse(line));
      }
    };
    try {
      lines();
      for (let n = await Deno.stdin.read(chunk); n !== null; n = await Deno.stdin.read(chunk)) {
        text += decoder.decode(chunk.subarray(0, n), { stream: true });
        lines();
      }
    } catch {
      // a read error: the parent is gone
    }
    onEnd();
  })();
}

/**
 * Reads the first line from stdin (the spec) and nothing more, so that
 * another thread can read the rest.
 *
 * @returns The line parsed, and what was read after it; undefined at EOF.
 */
export async function readFirstLine(): Promise<{ first: unknown; rest: string } | undefined> {
  const decoder = new TextDecoder();
  const chunk = new Uint8Array(1 << 16);
  let text = "";
  for (let n = await Deno.stdin.read(chunk); n !== null; n = await Deno.stdin.read(chunk)) {
    text += decoder.decode(chunk.subarray(0, n), { stream: true });
    const nl = text.indexOf("\n");
    if (nl >= 0) return { first: JSON.parse(text.slice(0, nl)), rest: text.slice(nl + 1) };
  }
  return undefined;
}
