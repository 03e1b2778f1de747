/**
 * The weft version, in a module of its own so that the CLI can print it (and
 * record it) without loading the engine.
 *
 * @module
 */

/** The weft version recorded with each run. */
export const WEFT_VERSION = "0.1.0";
