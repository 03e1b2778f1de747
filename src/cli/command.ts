/**
 * What a CLI command is: a summary for the command list, its help, and what
 * it does.
 *
 * @module
 */

/** A command of the CLI. */
export interface Command {
  /** One line for the command list. */
  summary: string;
  /** The full help text. */
  help: string;
  /**
   * Runs the command.
   *
   * @param args The arguments after the command's name.
   * @returns The exit code.
   */
  run(args: string[]): Promise<number>;
}

/**
 * Imports a module when it is needed, by a specifier Deno does not see
 * ahead: for a literal `import("./x.ts")` Deno loads the module's whole
 * graph (npm packages included) with the importing module's, so a literal
 * in the command table alone would load every command at every start-up.
 * The type comes from `typeof import(…)`, which loads nothing.
 *
 * @param url The module, as `new URL("./x.ts", import.meta.url)`.
 * @returns The module's namespace.
 */
export function importLater<T>(url: URL): Promise<T> {
  return import(url.href) as Promise<T>;
}
