/**
 * Any command line given to the CLI ends in an exit code and a message, never an exception: random
 * words, flags and values for every short-lived command, against an address that refuses.
 */
import test from "ava";
import fc from "fast-check";
import { runCli } from "../src/cli/program.ts";
import { captureIo } from "../test/cli/fake-agent.ts";

const commands = [
  ["members"], ["join"], ["leave"], ["force-leave"], ["info"], ["reload"], ["keygen"], ["validate"], ["version"], ["help"],
  ["operator"], ["operator", "raft"], ["operator", "raft", "list-peers"], ["operator", "raft", "remove-peer"], ["operator", "raft", "transfer-leader"],
  ["kv", "get"], ["kv", "put"], ["kv", "delete"], ["kv", "export"], ["kv", "import"], ["catalog", "nodes"], ["catalog", "services"],
  ["catalog", "datacenters"], ["services", "register"], ["services", "deregister"], ["maint"], ["event"], ["snapshot", "restore"], ["nonsense"],
];
const words = ["-detailed", "-wan", "-status", "-recurse", "-keys", "-cas", "-modify-index", "-flags", "-base64", "-id", "-address", "-name",
  "-enable", "-disable", "-reason", "-service", "-node-meta", "-tags", "-http-addr", "-token", "-token-file", "-stale", "-datacenter", "-prefix",
  "-h", "--", "-", "x", "3", "-1", "a=b", "@/nonexistent", "unix:///s", "http://[::1", "(", "10.0.0.1:8301"];

test("random arguments to every short-lived command exit 0, 1 or 2 with no exception", async (t) => {
  await fc.assert(
    fc.asyncProperty(fc.constantFrom(...commands), fc.array(fc.oneof(fc.constantFrom(...words), fc.string({ maxLength: 6 })), { maxLength: 6 }), async (command, args) => {
      const { io, stdout, stderr } = captureIo({ CONSUL_HTTP_ADDR: "127.0.0.1:1" });
      const code = await runCli([...command, ...args], { ...io, readStdin: async () => Buffer.from("[]") });
      if (![0, 1, 2].includes(code)) throw new Error(`exit ${code} for ${JSON.stringify([...command, ...args])}`);
      if (code === 1 && stderr() === "" && stdout() === "") throw new Error(`exit 1 with no message for ${JSON.stringify([...command, ...args])}`);
    }),
    { numRuns: 600 },
  );
  t.pass();
});
