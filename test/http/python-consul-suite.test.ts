/**
 * Regressions found by running python-consul 0.7.1's own test suite (test/compat/python-consul)
 * against a -dev agent, each checked here against current Consul's behaviour over HTTP on a real
 * in-process agent (127.0.0.131).
 */
import test from "ava";
import type { Agent } from "../../src/agent/agent.ts";
import { startDevAgent, type AgentApi } from "./harness.ts";

let api: AgentApi;
const stops: (() => unknown)[] = [];

// One agent for the file (hooks may not register teardowns, so the after hook stops it).
test.before(async () => {
  api = await startDevAgent({ teardown: (fn) => stops.push(fn) }, "127.0.0.131");
});
test.after.always(async () => {
  for (const stop of stops) await stop();
});

/** The agent's tick count: anti-entropy used to run only on a tick (every 50 ms). */
const ticksOf = (agent: Agent): number => (agent as unknown as { ticks: number }).ticks;

async function until(what: string, done: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within 5 s`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

const ids = async (service: string): Promise<string[]> =>
  (await api.get(`/v1/health/service/${encodeURIComponent(service)}`)).json<{ Service: { ID: string } }[]>().map((e) => e.Service.ID);

test.serial("agent endpoints sync to the catalog at once, not at the next anti-entropy tick (python-consul reads 40 ms later)", async (t) => {
  // An operation that straddles a tick boundary proves nothing either way, so count those done
  // within one tick: before the fix none could be (the sync only started on a tick), and on a
  // loaded machine some still straddle one.
  let withinOneTick = 0;
  const cycles = 10;
  for (let i = 0; i < cycles; i++) {
    const id = `app#127.0.0.1#${3000 + i}`;
    let before = ticksOf(api.agent);
    t.is((await api.put("/v1/agent/service/register", { Name: id })).status, 200);
    await until(`${id} in the catalog`, async () => (await ids(id)).includes(id));
    if (ticksOf(api.agent) === before) withinOneTick++;
    before = ticksOf(api.agent);
    t.is((await api.put(`/v1/agent/service/deregister/${encodeURIComponent(id)}`)).status, 200);
    await until(`${id} gone from the catalog`, async () => (await ids(id)).length === 0);
    if (ticksOf(api.agent) === before) withinOneTick++;
  }
  t.true(withinOneTick >= cycles / 2, `${withinOneTick} of ${2 * cycles} registrations and deregistrations reached the catalog within one tick`);
});

test.serial("catalog register and deregister go to the body's Datacenter: another one is 500 No path to datacenter", async (t) => {
  const register = await api.put("/v1/catalog/register", { datacenter: "dc2", node: "foo", address: "10.1.10.11" });
  t.is(register.status, 500);
  t.is(register.text, "No path to datacenter");
  t.is((await api.get("/v1/catalog/node/foo")).text, "null", "nothing registered locally");
  const deregister = await api.put("/v1/catalog/deregister", { Datacenter: "dc2", Node: "n2" });
  t.is(deregister.status, 500);
  t.is(deregister.text, "No path to datacenter");
  const local = await api.put("/v1/catalog/register", { Datacenter: "dc1", Node: "foo", Address: "10.1.10.11" });
  t.is(local.text, "true", "the agent's own datacenter, named in any case, is local");
  t.is((await api.put("/v1/catalog/deregister", { Node: "foo" })).text, "true");
});

test.serial("operator raft configuration answers the configuration's index (1 for a bootstrapped server), not the commit index", async (t) => {
  for (let i = 0; i < 5; i++) await api.put(`/v1/kv/raise-the-commit-index-${i}`, "x");
  const config = (await api.get("/v1/operator/raft/configuration")).json<{ Index: number; Servers: { Leader: boolean; Voter: boolean }[] }>();
  t.is(config.Index, 1);
  t.like(config.Servers[0], { Leader: true, Voter: true });
});
