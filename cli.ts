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
import { dropPrestarted, prestart } from "./src/cli/prestart.ts";

if (import.meta.main) {
  // `weft run` starts its child first thing, when it knows which (src/cli/prestart.ts).
  prestart(Deno.args);
  const code = await main(Deno.args);
  await dropPrestarted();
  Deno.exit(code);
}
