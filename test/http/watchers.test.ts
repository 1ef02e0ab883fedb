/**
 * 10,000 blocking KV watchers, one per key, held open over HTTP by a client in another process:
 * a write to one key wakes exactly that key's watcher (the agent's waiter count drops by one and
 * the client sees one answer), and a write to an unwatched key wakes nobody. When the client
 * goes away, the agent is told (ReadOptions.signal) and drops every waiter.
 */
import test from "ava";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { startApi } from "./harness.ts";

const watchers = 10_000;
const client = fileURLToPath(new URL("./watchers-client.ts", import.meta.url));

async function until(what: string, check: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

test("blocking: 10,000 watchers on different keys; one write wakes exactly its key's watcher", async (t) => {
  const api = await startApi(t);
  for (let start = 0; start < watchers; start += 128) {
    const ops = [];
    for (let i = start; i < Math.min(watchers, start + 128); i++) ops.push({ KV: { Verb: "set", Key: `w/${i}`, Value: "MA==" } });
    const res = await api.put("/v1/txn", ops);
    if (res.status !== 200) throw new Error(`seed txn: ${res.status} ${res.text}`);
  }
  const index = Number((await api.get("/v1/kv/w/?keys")).headers.get("x-consul-index"));
  const child = spawn(process.execPath, ["--import", "tsx", client, String(api.port), String(watchers), "w/", String(index), "60s"], { stdio: ["ignore", "pipe", "inherit"] });
  t.teardown(() => {
    child.kill("SIGKILL");
  });
  const woke: string[] = [];
  let opened = false;
  let buffered = "";
  child.stdout.on("data", (chunk: Buffer) => {
    buffered += chunk.toString();
    const lines = buffered.split("\n");
    buffered = lines.pop()!;
    for (const line of lines) {
      if (line.startsWith("open ")) opened = true;
      else woke.push(line);
    }
  });
  const waiters = () => api.backend.catalog.waiterCount;
  const openStarted = Date.now();
  await until("every watcher registered", () => opened && waiters() === watchers, 180_000).catch((error: Error) => {
    throw new Error(`${error.message}: opened ${opened}, ${waiters()} waiters, answers: ${woke.slice(0, 3).join("; ")}`);
  });
  t.log(`10,000 watchers registered in ${Date.now() - openStarted} ms`);
  t.deepEqual(woke, [], "nobody answered before a write");

  const unrelated = await api.put("/v1/kv/elsewhere", "x");
  t.is(unrelated.text, "true");
  await new Promise((resolve) => setTimeout(resolve, 200));
  t.is(waiters(), watchers, "a write to an unwatched key wakes nobody");
  t.deepEqual(woke, []);

  const writtenAt = Date.now();
  await api.put("/v1/kv/w/4321", "1");
  await until("the watcher of w/4321 answered", () => woke.length >= 1, 10_000);
  const latencyMs = Date.now() - writtenAt;
  await new Promise((resolve) => setTimeout(resolve, 200));
  t.is(woke.length, 1, `woken: ${woke.slice(0, 5).join(", ")}`);
  t.regex(woke[0]!, /^woke 4321 200 /);
  t.is(waiters(), watchers - 1);
  t.log(`10,000 watchers: one write woke 1 watcher, answered in ${latencyMs} ms`);
  t.true(latencyMs < 5000, `wake-up took ${latencyMs} ms`);

  const killedAt = Date.now();
  child.kill("SIGKILL");
  await until("the agent dropped the abandoned waiters", () => waiters() === 0, 120_000);
  t.log(`client gone: 9,999 waiters dropped in ${Date.now() - killedAt} ms`);
});
