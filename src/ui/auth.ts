/**
 * Who may talk to the web UI. Bound to a loopback address, it answers the
 * local user (and refuses requests whose `Host` names another site, which
 * is how a web page would reach it by DNS rebinding). Bound to any other
 * address, every request — pages, assets, the API and the event streams —
 * must carry the token, as `?token=` or `Authorization: Bearer`. Requests
 * that change something must come from the UI's own pages (`Origin`).
 *
 * @module
 */

/**
 * Whether a host name or address is a loopback one: `localhost`,
 * `127.0.0.0/8` or `::1`.
 *
 * @param host The name or address (IPv6 with or without brackets).
 * @returns True for loopback.
 */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  return h === "localhost" || h === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) ||
    h === "::ffff:127.0.0.1";
}

/**
 * A new random token: 32 bytes, base64url.
 *
 * @returns The token.
 */
export function newToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  let text = "";
  for (const b of bytes) text += String.fromCharCode(b);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/**
 * The token a request carries: `?token=` or `Authorization: Bearer`.
 *
 * @param req The request.
 * @param url Its parsed URL.
 * @returns The token, or undefined.
 */
export function tokenOf(req: Request, url: URL): string | undefined {
  const header = req.headers.get("authorization");
  const m = header === null ? null : /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (m !== null) return m[1];
  return url.searchParams.get("token") ?? undefined;
}

/**
 * Compares two strings in time that does not depend on where they differ.
 *
 * @param a One string.
 * @param b The other.
 * @returns Whether they are equal.
 */
export function sameToken(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < Math.max(x.length, y.length); i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}

/** What {@linkcode checkRequest} needs to know about the server. */
export interface Gate {
  /** The token every request must carry, if any. */
  token: string | undefined;
  /** Whether the server listens on a loopback address only. */
  loopback: boolean;
  /** The port it listens on. */
  port: number;
}

/**
 * Checks a request against the gate.
 *
 * @param gate The server's rules.
 * @param req The request.
 * @param url Its parsed URL.
 * @returns A response refusing it, or undefined when it may pass.
 */
export function checkRequest(gate: Gate, req: Request, url: URL): Response | undefined {
  const host = req.headers.get("host") ?? "";
  if (gate.loopback && gate.token === undefined) {
    // Without a token, only a page that believes it talks to a loopback name may ask.
    const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(host);
    if (m === null || !isLoopback(m[1]!) || (m[2] !== undefined && Number(m[2]) !== gate.port)) {
      return refuse(
        403,
        `weft ui answers only to http://127.0.0.1:${gate.port}/ (this request named the host ${
          JSON.stringify(host)
        })`,
      );
    }
  }
  if (gate.token !== undefined) {
    const given = tokenOf(req, url);
    if (given === undefined || !sameToken(given, gate.token)) {
      return refuse(
        401,
        "weft ui needs its token: open the URL it printed (…?token=…), or send Authorization: Bearer TOKEN",
        { "www-authenticate": 'Bearer realm="weft ui"' },
      );
    }
  }
  if (req.method !== "GET" && req.method !== "HEAD") {
    // Changes come only from the UI's own pages: a form on another site cannot post here.
    const origin = req.headers.get("origin");
    if (origin === null || origin !== `${url.protocol}//${host}`) {
      return refuse(403, "weft ui accepts actions only from its own pages");
    }
  }
  return undefined;
}

function refuse(status: number, message: string, headers: Record<string, string> = {}): Response {
  return new Response(`${message}\n`, {
    status,
    headers: {
      "content-type": "text/plain; charset=utf-8",
      "cache-control": "no-store",
      ...headers,
    },
  });
}
