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
