#!/usr/bin/env node
// The praetor command: plain Node on the compiled JavaScript (npm run build makes dist/).
import("../dist/src/cli/main.js").catch((e) => {
  if (e?.code === "ERR_MODULE_NOT_FOUND" && String(e.message).includes("dist/src/cli/main.js")) {
    process.stderr.write("praetor: dist/src/cli/main.js is missing; run `npm run build` in the package first\n");
  } else {
    process.stderr.write(`praetor: ${e?.stack ?? e}\n`);
  }
  process.exitCode = 1;
});
