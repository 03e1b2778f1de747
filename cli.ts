/**
 * The `weft` command line: compile a script to its static graph, inspect it,
 * run it under exactly the permissions its tasks declare, and query the store.
 *
 * Install it as a command with:
 *
 *     deno install -g -A -n weft jsr:@weft/weft/cli   # or the file/URL of cli.ts
 *
 * @module
 */

import { main } from "./src/cli/main.ts";

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
