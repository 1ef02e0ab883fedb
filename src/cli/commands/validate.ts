/** `praetor validate FILE_OR_DIRECTORY...`: reads and checks config files as the agent would, without starting it. */
import type { Command } from "../command.ts";
import { println } from "../io.ts";
import { flagBool, flagString } from "../flags.ts";

export const validateCommand: Command = {
  help: `
Usage: praetor validate [options] FILE_OR_DIRECTORY...

  Performs a basic sanity test on Praetor configuration files. For each file
  or directory given, the validate command will attempt to parse the
  contents just as the "praetor agent" command would, and catch any errors.
  This is useful to do a test of the configuration only, without actually
  starting the agent.

  Returns 0 if the configuration is valid, or 1 if there are problems.
`,
  flags: [
    { name: "quiet", kind: "bool", usage: "When given, a successful run will produce no output." },
    { name: "config-format", kind: "string", placeholder: "format", usage: "Config files are in this format irrespective of their extension. Must be 'hcl' or 'json'" },
  ],
  async run(parsed, io) {
    if (parsed.args.length === 0) {
      println(io.stderr, "Must specify at least one config file or directory");
      return 1;
    }
    const { validateConfigFiles } = await import("../../agent/config/load.ts");
    try {
      const { warnings } = validateConfigFiles(parsed.args, undefined, flagString(parsed, "config-format"));
      for (const w of warnings) println(io.stderr, `Warning: ${w}`);
    } catch (e) {
      println(io.stderr, `Config validation failed: ${e instanceof Error ? e.message : String(e)}`);
      return 1;
    }
    if (!flagBool(parsed, "quiet")) println(io.stdout, "Configuration is valid!");
    return 0;
  },
};
