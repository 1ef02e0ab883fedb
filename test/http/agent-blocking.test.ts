/**
 * Blocking queries against a real in-process `-dev` agent (127.0.0.91): identical watchers share
 * one evaluation per write (counted by the agent's `praetor.blocking.evaluations` gauge) and all
 * receive the same body; a write elsewhere evaluates nothing; a timed-out watcher gets the
 * current answer with an index that never goes back.
 */
import test from "ava";
import { startDevAgent, type AgentApi } from "./harness.ts";

async function gauge(api: AgentApi, name: string): Promise<number> {
  const metrics = (await api.get("/v1/agent/metrics")).json<{ Gauges: { Name: string; Value: number }[] }>();
  const found = metrics.Gauges.find((g) => g.Name === name);
  if (found === undefined) throw new Error(`no gauge ${name}`);
  return found.Value;
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

test.serial("real agent: 300 identical blocking queries share one evaluation per write and one body", async (t) => {
  t.timeout(180_000);
  const api = await startDevAgent(t, "127.0.0.91");
  t.is((await api.put("/v1/kv/shared/k", "v0")).text, "true");
  const first = await api.get("/v1/kv/shared/k");
  const index = Number(first.headers.get("x-consul-index"));
  const watchers = 300;
  const answers = Array.from({ length: watchers }, () => api.get(`/v1/kv/shared/k?index=${index}&wait=60s`));
  // A second group: the same key through ?recurse is another query, with its own evaluation.
  const recurse = Array.from({ length: 20 }, () => api.get(`/v1/kv/shared/?recurse&index=${index}&wait=60s`));
  await until("every watcher waiting", async () => (await gauge(api, "praetor.blocking.waiters")) === watchers + 20);

  const quiet = await gauge(api, "praetor.blocking.evaluations");
  t.is((await api.put("/v1/kv/elsewhere", "x")).text, "true");
  await new Promise((resolve) => setTimeout(resolve, 200));
  t.is(await gauge(api, "praetor.blocking.evaluations"), quiet, "a write to another key evaluates no waiting group");
  t.is(await gauge(api, "praetor.blocking.waiters"), watchers + 20);

  t.is((await api.put("/v1/kv/shared/k", "v1")).text, "true");
  const replies = await Promise.all(answers);
  const lists = await Promise.all(recurse);
  const evaluations = (await gauge(api, "praetor.blocking.evaluations")) - quiet;
  t.is(evaluations, 2, `one evaluation per group (kvGet, kvList) for ${watchers + 20} watchers, not one per watcher`);
  t.true(replies.every((r) => r.status === 200 && r.text === replies[0]!.text), "every watcher gets the same body");
  t.is(Buffer.from(replies[0]!.json()[0].Value, "base64").toString(), "v1");
  const newIndex = Number(replies[0]!.headers.get("x-consul-index"));
  t.true(newIndex > index);
  t.true(replies.every((r) => Number(r.headers.get("x-consul-index")) === newIndex));
  t.true(lists.every((r) => r.status === 200 && r.json().length === 1));
});

test.serial("real agent: a watcher whose key did not change answers at its wait, with the read headers", async (t) => {
  t.timeout(120_000);
  const api = await startDevAgent(t, "127.0.0.92");
  await api.put("/v1/kv/same", "v");
  const index = Number((await api.get("/v1/kv/same")).headers.get("x-consul-index"));
  const startedMs = Date.now();
  const pending = api.get(`/v1/kv/same?index=${index}&wait=1s`);
  await until("the watcher waiting", async () => (await gauge(api, "praetor.blocking.waiters")) === 1);
  await api.put("/v1/kv/other", "x");
  const reply = await pending;
  t.true(Date.now() - startedMs >= 900, "answered at its wait, not before");
  t.is(reply.status, 200);
  t.true(Number(reply.headers.get("x-consul-index")) >= index);
  t.is(reply.headers.get("x-consul-knownleader"), "true");
  t.is(reply.headers.get("x-consul-effective-consistency"), "leader");
});
