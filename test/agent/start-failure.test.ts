/**
 * An agent that cannot start (a port taken, a data dir it cannot use) fails with an error naming
 * the cause and releases everything it had opened, so an in-process caller can fix the cause and
 * start again in the same process: no sockets, timers or LevelDB locks left behind.
 */
import test from "ava";
import * as dgram from "node:dgram";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { loadConfig } from "../../src/agent/config/index.ts";
import { createLogger } from "../../src/agent/log.ts";
import { startAgent } from "../../src/agent/run.ts";

const host = "127.0.0.211";
const quiet = () => createLogger({ level: "error", write: () => {} });

function bindUdp(port: number): Promise<dgram.Socket> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket("udp4");
    socket.once("error", reject);
    socket.bind(port, host, () => resolve(socket));
  });
}

test.serial("a DNS port already in use fails the start, names the port, and leaves nothing open: the same data dir and ports start once it is free", async (t) => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "praetor-start-failure-"));
  const dnsPort = 18653;
  const args = ["-server", "-bootstrap", "-node", "sf1", "-bind", host, "-client", host, "-data-dir", dataDir,
    "-http-port", "18553", "-dns-port", String(dnsPort), "-serf-lan-port", "18353", "-serf-wan-port", "-1", "-server-port", "18355"];
  const blocker = await bindUdp(dnsPort);
  const error = await t.throwsAsync(startAgent(loadConfig(args).config, quiet()));
  t.regex(error!.message, /18653/, "the error names the DNS port");
  await new Promise<void>((resolve) => blocker.close(() => resolve()));

  // The gossip, RPC and HTTP ports and the agent-state LevelDB lock were released by the failed start.
  const running = await startAgent(loadConfig(args).config, quiet());
  try {
    t.deepEqual(running.httpPorts, [18553]);
    const leader = await fetch(`http://${host}:18553/v1/status/leader`).then((r) => r.json());
    t.is(typeof leader, "string");
  } finally {
    await running.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});

test.serial("a data dir that is a file is a clear error, not a crash", async (t) => {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "praetor-start-failure-")), "not-a-dir");
  fs.writeFileSync(file, "x");
  const args = ["-server", "-bootstrap", "-node", "sf2", "-bind", host, "-client", host, "-data-dir", file,
    "-http-port", "18554", "-dns-port", "-1", "-serf-lan-port", "18354", "-serf-wan-port", "-1", "-server-port", "18356"];
  const error = await t.throwsAsync(startAgent(loadConfig(args).config, quiet()));
  t.truthy(error!.message.length > 0);
  t.notRegex(error!.message, /^undefined|Cannot read propert/);
});
