/**
 * The `praetor` executable's entry (bin/praetor.mjs runs its compiled form, dist/src/cli/main.js).
 * Everything a command needs is imported when that command runs; see program.ts.
 */
import { processIo } from "./io.ts";
import { runCli } from "./program.ts";

const argv = process.argv.slice(2);
let code: number;
try {
  code = await runCli(argv, processIo());
} catch (e) {
  process.stderr.write(`Error: ${e instanceof Error ? e.message : String(e)}\n`);
  code = 1;
}
process.exitCode = code;
// Once the agent has stopped (or failed to start), whatever it left open must not keep the
// process alive: exit as soon as stdout has drained.
if (argv[0] === "agent") process.stdout.write("", () => process.exit(code));
