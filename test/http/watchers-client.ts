/**
 * A client process for the watcher tests and bench: opens one blocking KV GET per key
 * (`<prefix><i>?index=<index>&wait=<wait>`), prints "open <n>" once every request is sent, then
 * "woke <i> <status> <ms since start>" per answer. A prefix ending in "#" is one key for all. Run in its own process so that server and
 * client sockets do not share one file-descriptor limit.
 *
 *   node --import tsx test/http/watchers-client.ts <port> <count> <prefix> <index> <wait>
 */
import { Agent, request } from "node:http";

const [portText, countText, prefix, indexText, wait] = process.argv.slice(2);
const port = Number(portText);
const count = Number(countText);
const agent = new Agent({ keepAlive: false, maxSockets: Infinity });
const started = performance.now();
let sent = 0;
let out = "";
const flush = (): void => {
  if (out !== "") process.stdout.write(out);
  out = "";
};
setInterval(flush, 5).unref();

for (let i = 0; i < count; i++) {
  // A prefix ending in "#" names one key that every watcher reads.
  const key = prefix!.endsWith("#") ? prefix!.slice(0, -1) : `${prefix}${i}`;
  const req = request({ host: "127.0.0.1", port, path: `/v1/kv/${key}?index=${indexText}&wait=${wait}`, agent }, (res) => {
    res.resume();
    res.on("end", () => {
      out += `woke ${i} ${res.statusCode} ${(performance.now() - started).toFixed(1)}\n`;
    });
  });
  req.on("error", (error) => {
    out += `error ${i} ${error.message}\n`;
  });
  req.end();
  sent++;
  // Yield now and then so the sockets connect while the loop runs.
  if (i % 100 === 99) await new Promise((resolve) => setImmediate(resolve));
}
out += `open ${sent}\n`;
flush();
process.on("SIGTERM", () => process.exit(0));
