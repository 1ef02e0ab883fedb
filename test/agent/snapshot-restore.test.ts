/**
 * PUT /v1/snapshot on a running agent: the archive GET /v1/snapshot saved goes through the log,
 * the saved keys come back, later keys are gone, a blocking reader wakes, and X-Consul-Index only
 * grows. A malformed archive is a 400 and changes nothing.
 */
import test from "ava";
import { startDevAgent } from "../http/harness.ts";

test.serial("snapshot save, change, restore on a dev agent: the saved state is back and indexes only grow", async (t) => {
  t.timeout(120_000);
  const api = await startDevAgent(t, "127.0.0.212");
  const base = `http://${api.host}:${api.port}`;
  const put = async (key: string, value: string) => (await fetch(`${base}/v1/kv/${key}`, { method: "PUT", body: value })).text();
  t.is(await put("app/a", "1"), "true");
  t.is(await put("app/b", "2"), "true");
  const saved = await fetch(`${base}/v1/snapshot`);
  t.is(saved.status, 200);
  const archive = new Uint8Array(await saved.arrayBuffer());

  t.is(await put("app/a", "changed"), "true");
  t.is(await put("app/c", "later"), "true");
  const before = await fetch(`${base}/v1/kv/app/a`);
  const indexBefore = Number(before.headers.get("X-Consul-Index"));

  const blocked = fetch(`${base}/v1/kv/app/zzz?index=${indexBefore}&wait=30s`);
  const restored = await fetch(`${base}/v1/snapshot`, { method: "PUT", body: archive });
  t.is(restored.status, 200, await restored.text());
  const woke = await blocked;
  t.true(Number(woke.headers.get("X-Consul-Index")) > indexBefore, "the blocked reader woke with a higher index");

  t.is(await (await fetch(`${base}/v1/kv/app/a?raw`)).text(), "1");
  t.is((await fetch(`${base}/v1/kv/app/c`)).status, 404);
  const after = await fetch(`${base}/v1/kv/app/a`);
  t.true(Number(after.headers.get("X-Consul-Index")) > indexBefore, `index ${after.headers.get("X-Consul-Index")} > ${indexBefore}`);
  t.is(await put("app/d", "after"), "true", "writes continue after the restore");

  const bad = await fetch(`${base}/v1/snapshot`, { method: "PUT", body: new Uint8Array([1, 2, 3]) });
  t.is(bad.status, 400);
  t.regex(await bad.text(), /snapshot archive/);
  t.is(await (await fetch(`${base}/v1/kv/app/d?raw`)).text(), "after");
});
