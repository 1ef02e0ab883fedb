/** The shape of one CLI command, and the runner that parses its flags the Go way. */
import type { CliIo } from "./io.ts";
import { println } from "./io.ts";
import { FlagError, type FlagSpec, formatFlagUsage, HelpRequested, parseFlags, type ParsedFlags } from "./flags.ts";

export interface Command {
  /** Usage text, first line "Usage: praetor members [options]". */
  readonly help: string;
  readonly flags: readonly FlagSpec[];
  /** The command parses its own arguments (the agent: its config loader needs every flag in order). */
  readonly rawArgs?: boolean;
  run(parsed: ParsedFlags, io: CliIo): Promise<number>;
}

export function usageText(command: Command): string {
  const flags = formatFlagUsage(command.flags);
  return flags === "" ? `${command.help.trim()}\n` : `${command.help.trim()}\n\nCommand Options:\n\n${flags}`;
}

/**
 * Parses the flags and runs the command. `-h` prints usage (exit 0); a bad flag prints Go's
 * message and a hint naming the help command (exit 1); an exception is a clear error (exit 1).
 */
export async function runCommand(command: Command, name: string, argv: readonly string[], io: CliIo): Promise<number> {
  if (command.rawArgs === true) return command.run({ values: new Map(), occurrences: [], args: argv }, io);
  let parsed: ParsedFlags;
  try {
    parsed = parseFlags(argv, command.flags);
  } catch (e) {
    if (e instanceof HelpRequested) {
      println(io.stdout, usageText(command));
      return 0;
    }
    if (e instanceof FlagError) {
      println(io.stderr, e.message);
      println(io.stderr, `Run 'praetor ${name} -h' for the list of options.`);
      return 1;
    }
    throw e;
  }
  return command.run(parsed, io);
}
