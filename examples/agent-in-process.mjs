// A dev agent started inside this process on ephemeral ports: write and read a key over its HTTP API.
import { createLogger, loadConfig, startAgent } from "praetor";

const { config } = loadConfig(["-dev", "-http-port", "0", "-dns-port", "0", "-serf-lan-port", "0", "-serf-wan-port", "-1", "-server-port", "0"]);
const running = await startAgent(config, createLogger({ level: "warn", write: () => {} }));
const base = `http://127.0.0.1:${running.httpPorts[0]}`;
for (let i = 0; i < 100; i++) {
  const leader = await (await fetch(`${base}/v1/status/leader`)).json();
  if (leader !== "") break;
  await new Promise((r) => setTimeout(r, 100));
}
const put = await (await fetch(`${base}/v1/kv/hello`, { method: "PUT", body: "world" })).text();
const value = await (await fetch(`${base}/v1/kv/hello?raw`)).text();
console.log(JSON.stringify({ put, value }));
await running.stop();
