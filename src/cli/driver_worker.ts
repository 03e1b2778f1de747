/**
 * The Worker that imports a script and drives its runs, for `weft run`'s
 * child and `weft worker`'s main thread alike: it holds no permission but
 * read on the script's module files and import from its module hosts, so
 * the script's top-level code and its workflow and flow bodies run with
 * nothing (the trust boundary both commands keep).
 *
 * @module
 */

/**
 * Starts a driver Worker.
 *
 * @param module The driver's module (`run_driver.ts`, `worker_driver.ts`).
 * @param moduleRead The script's module files (read), none: no read.
 * @param importHosts The hosts it may import from, none: no import.
 * @returns The Worker, named `weft:driver`.
 */
export function driverWorker(module: URL, moduleRead: string[], importHosts: string[]): Worker {
  return new Worker(module, {
    type: "module",
    name: "weft:driver",
    deno: {
      permissions: {
        ...Object.fromEntries(["write", "net", "env", "run", "ffi", "sys"].map((k) => [k, false])),
        read: moduleRead.length > 0 ? moduleRead : false,
        import: importHosts.length > 0 ? importHosts : false,
      },
    },
  } as WorkerOptions);
}
