/**
 * User events against a real `-dev` agent (127.0.0.97): the agent records an event only when its
 * filters match it, as Consul's shouldProcessUserEvent decides (node name; a service ID, and with
 * a tag filter one of that service's tags; Go's unanchored matching); bad filters are Consul's
 * 500s; /v1/event/list filters by name and by the events' filters, and blocks.
 */
import test from "ava";
import { startDevAgent } from "./harness.ts";

test("real agent: event filters decide whether this agent records an event; list filters and blocks", async (t) => {
  t.timeout(120_000);
  const api = await startDevAgent(t, "127.0.0.97", ["-node", "events-node-97"]);
  const node = api.agent.nodeName;
  t.is((await api.put("/v1/agent/service/register", { ID: "web-1", Name: "web", Tags: ["v2", "canary"], Port: 80 })).status, 200);

  const fire = async (query: string) => {
    const res = await api.put(`/v1/event/fire/deploy?${query}`, "p");
    t.is(res.status, 200, `${query}: ${res.text}`);
    return res.json<{ ID: string }>().ID;
  };
  const recorded = async (): Promise<string[]> => (await api.get("/v1/event/list?name=deploy")).json<{ ID: string }[]>().map((e) => e.ID);

  t.is(node, "events-node-97");
  const mine = await fire("node=node-9");
  const otherNode = await fire("node=^not-this-node$");
  const byService = await fire("service=web");
  const byServiceAndTag = await fire("service=^web-1$&tag=can");
  const wrongTag = await fire("service=web&tag=^v1$");
  const otherService = await fire("service=^db");
  const all = await fire("");
  const list = await recorded();
  t.deepEqual(list, [mine, byService, byServiceAndTag, all], "unanchored node match, service ID and tag match are recorded; the rest are not");
  t.false(list.includes(otherNode));
  t.false(list.includes(wrongTag));
  t.false(list.includes(otherService));

  const byFilter = (await api.get("/v1/event/list?service=web")).json<{ ID: string }[]>().map((e) => e.ID);
  t.deepEqual(byFilter, [byService, byServiceAndTag], "?service= keeps events whose ServiceFilter matches");
  t.deepEqual((await api.get("/v1/event/list?tag=^can")).json<{ ID: string }[]>().map((e) => e.ID), [byServiceAndTag]);
  t.deepEqual((await api.get(`/v1/event/list?node=.`)).json<{ ID: string }[]>().map((e) => e.ID), [mine]);

  const badNode = await api.put("/v1/event/fire/x?node=(");
  t.is(badNode.status, 500);
  t.regex(badNode.text, /^Invalid node filter: /);
  const tagOnly = await api.put("/v1/event/fire/x?tag=v1");
  t.is(tagOnly.status, 500);
  t.is(tagOnly.text, "Cannot provide tag filter without service filter");
  const badList = await api.get("/v1/event/list?tag=[");
  t.is(badList.status, 400);
  t.regex(badList.text, /^Invalid tag filter: /);
  t.is((await api.put("/v1/event/fire/")).status, 400);

  const index = (await api.get("/v1/event/list?name=deploy")).headers.get("x-consul-index");
  const pending = api.get(`/v1/event/list?name=deploy&index=${index}&wait=30s`);
  await new Promise((resolve) => setTimeout(resolve, 200));
  await fire("node=^nobody$");
  await new Promise((resolve) => setTimeout(resolve, 200));
  const started = Date.now();
  const next = await fire("");
  const woke = await pending;
  t.true(Date.now() - started < 10_000);
  t.is(woke.json<{ ID: string }[]>().at(-1)!.ID, next, "the filtered-out event did not wake the list; the recorded one did");
  t.not(woke.headers.get("x-consul-index"), index);
});
