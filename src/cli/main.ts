/**
 * The `praetor` executable's entry (bin/praetor.mjs runs its compiled form, dist/cli/main.js).
 * Everything a command needs is imported when that command runs; see program.ts.
 */
import { processIo } from "./io.ts";
import { runCli } from "./program.ts";

try {
  process.exitCode = await runCli(process.argv.slice(2), processIo());
} catch (e) {
  process.stderr.write(`Error: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
}
