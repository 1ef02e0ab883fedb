// Builds the optional native DNS fast path (native/dns-fast) with the node-gyp that ships inside
// npm, against the Node headers npm is configured with. The addon is optional: when it cannot be
// built (no compiler, no headers, another platform) this says so and exits 0, and the agent
// answers UDP DNS in JavaScript; PRAETOR_NATIVE_REQUIRED=1 (CI) makes that a failure instead.
//
//   node native/build.mjs        (npm run build:native; run by `prepare`, so by npm ci)
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const addonDir = join(here, "dns-fast");
const addon = join(addonDir, "build", "Release", "dns_fast.node");
const required = process.env.PRAETOR_NATIVE_REQUIRED === "1";

function giveUp(reason) {
  const line = `praetor: native DNS fast path not built (${reason}); the agent will answer UDP DNS in JavaScript`;
  if (required) {
    console.error(`${line}\nPRAETOR_NATIVE_REQUIRED=1: failing`);
    process.exit(1);
  }
  console.warn(line);
  process.exit(0);
}

if (process.env.PRAETOR_DNS_NATIVE === "0") giveUp("PRAETOR_DNS_NATIVE=0");
if (process.platform !== "linux") giveUp(`its socket loop is Linux-only, this is ${process.platform}`);

// Inside an npm script npm names its own node-gyp; run by hand, it sits beside npm in Node's tree.
const candidates = [
  process.env.npm_config_node_gyp,
  join(dirname(process.execPath), "..", "lib", "node_modules", "npm", "node_modules", "node-gyp", "bin", "node-gyp.js"),
].filter((path) => path !== undefined && path !== "" && existsSync(path));
if (candidates.length === 0) giveUp("node-gyp not found beside npm");

// npm passes its `nodedir`; by hand, use the headers of the Node running this when they are there,
// since node-gyp would otherwise try to download them.
const prefix = join(dirname(process.execPath), "..");
const nodedir = process.env.npm_config_nodedir === undefined && existsSync(join(prefix, "include", "node", "node_api.h")) ? [`--nodedir=${prefix}`] : [];
const build = spawnSync(process.execPath, [candidates[0], "rebuild", "--loglevel=warn", ...nodedir], { cwd: addonDir, stdio: ["ignore", "inherit", "inherit"] });
if (build.status !== 0) giveUp(`node-gyp rebuild exited with ${build.status ?? build.signal}`);
// A library that builds but does not load (a missing symbol) is as good as none.
const load = spawnSync(process.execPath, ["-e", `require(${JSON.stringify(addon)})`], { encoding: "utf8" });
if (load.status !== 0) giveUp(`built but does not load: ${load.stderr.trim().split("\n")[0]}`);
console.log(`praetor: native DNS fast path built (${addon})`);
