/**
 * A client agent's forwarded blocking queries (src/agent/forwarded-queries.ts) over a fake server
 * that answers as the real one does: at once without an index or when its answer is past it,
 * else when the answer changes from the one it had when the call came in, or at its wait.
 * Identical watchers must cost one call, get what a call of their own would have got, and leave
 * nothing behind.
 */
import test from "ava";
import { ForwardedQueries, type ForwardQuery } from "../../src/agent/forwarded-queries.ts";
import type { ReadOptions, ReadResult } from "../../src/agent/api.ts";
import type { CatalogQuery } from "../../src/core/agent/query-types.ts";

interface Held {
  readonly key: string;
  readonly options: ReadOptions;
  readonly baseline: string;
  readonly resolve: (result: ReadResult<unknown>) => void;
  readonly reject: (error: unknown) => void;
}

class FakeServer {
  readonly data = new Map<string, { index: number; value: unknown }>();
  readonly held = new Set<Held>();
  readonly calls: { key: string; options: ReadOptions }[] = [];
  failNext: Error | null = null;
  private index = 10;

  readonly forward: ForwardQuery = (query, options, signal) => {
    const key = (query as { key: string }).key;
    this.calls.push({ key, options });
    if (this.failNext !== null) {
      const error = this.failNext;
      this.failNext = null;
      return Promise.reject(error);
    }
    const now = this.answer(key);
    if (!(options.index! > 0) || now.meta.index > options.index!) return Promise.resolve(now);
    return new Promise((resolve, reject) => {
      const held: Held = { key, options, baseline: JSON.stringify(now.value), resolve, reject };
      this.held.add(held);
      signal.addEventListener("abort", () => {
        if (this.held.delete(held)) reject(new Error("cancelled"));
      }, { once: true });
    });
  };

  answer(key: string): ReadResult<unknown> {
    const entry = this.data.get(key) ?? { index: 1, value: null };
    return { meta: { index: entry.index, knownLeader: true, lastContactMs: 0, consistency: "default" }, value: entry.value };
  }

  set(key: string, value: unknown): void {
    this.data.set(key, { index: ++this.index, value });
    for (const held of [...this.held]) {
      if (held.key !== key) continue;
      const now = this.answer(key);
      if (JSON.stringify(now.value) !== held.baseline) {
        this.held.delete(held);
        held.resolve(now);
      }
    }
  }

  /** The connection went away under every held call. */
  dropAll(error: Error): void {
    for (const held of [...this.held]) {
      this.held.delete(held);
      held.reject(error);
    }
  }

  /** Every held call reaches its wait: the current answer, at an index never below the one asked. */
  timeOutAll(): void {
    for (const held of [...this.held]) {
      this.held.delete(held);
      const now = this.answer(held.key);
      held.resolve({ meta: { ...now.meta, index: Math.max(now.meta.index, held.options.index!) }, value: now.value });
    }
  }
}

const kv = (key: string): CatalogQuery => ({ kind: "kvGet", key });
const blocking = (index: number, waitMs = 60_000): ReadOptions => ({ consistency: "default", index, waitMs });
const settle = () => new Promise((resolve) => setImmediate(resolve));

function setup(idleMs = 10_000) {
  const server = new FakeServer();
  const forwarded = new ForwardedQueries(server.forward, { idleMs, groupWaitMs: 300_000, jitterMs: () => 0 });
  return { server, forwarded };
}

test("forwarded queries: 1,000 identical watchers hold one call on the server and all get one answer object", async (t) => {
  const { server, forwarded } = setup();
  server.set("k", "v0");
  const index = server.answer("k").meta.index;
  const results: ReadResult<unknown>[] = [];
  const pending = Array.from({ length: 1000 }, () => forwarded.query(kv("k"), blocking(index)).then((r) => results.push(r)));
  await settle();
  t.is(forwarded.waiterCount, 1000);
  t.is(server.held.size, 1, "one blocking call on the server for 1,000 watchers");
  t.is(server.calls.length, 2, "the group's plain read, then its blocking call");
  server.set("k", "v1");
  await Promise.all(pending);
  t.is(results.length, 1000);
  t.true(results.every((r) => r === results[0]), "one answer object, serialised once by the HTTP layer");
  t.is(results[0]!.value, "v1");
  t.true(results[0]!.meta.index > index);
  t.is(forwarded.waiterCount, 0);
  await settle();
  t.is(server.held.size, 1, "the group re-armed at the new index for the watchers that come back");
});

test("forwarded queries: a write wakes its watchers a batch per event-loop turn, each batch answered before the next starts", async (t) => {
  const server = new FakeServer();
  const forwarded = new ForwardedQueries(server.forward, { idleMs: 50, groupWaitMs: 300_000, jitterMs: () => 0, wakeBatch: 100 });
  server.set("k", "v0");
  const index = server.answer("k").meta.index;
  let answered = 0;
  // Two awaits after the wake, as the agent and the HTTP handler add on the way to the socket.
  const watcher = async () => {
    const result = await forwarded.query(kv("k"), blocking(index));
    await Promise.resolve();
    answered++;
    return result;
  };
  const all = Promise.all(Array.from({ length: 250 }, watcher));
  await settle();
  server.set("k", "v1");
  await settle();
  t.is(answered, 100, "the first batch went all the way through before anything else ran");
  await settle();
  t.is(answered, 200);
  await settle();
  t.is(answered, 250);
  t.true((await all).every((r) => r.value === "v1"));
});

test("forwarded queries: watchers that re-arm at the new index join the running group; no call of their own", async (t) => {
  const { server, forwarded } = setup();
  server.set("k", "v0");
  const first = await forwarded.query(kv("k"), blocking(1));
  t.is(first.value, "v0", "an index the answer is past: answered at once, by the read that started the group");
  const again = Array.from({ length: 50 }, () => forwarded.query(kv("k"), blocking(first.meta.index)));
  await settle();
  const callsBefore = server.calls.length;
  t.is(forwarded.counters.joined, 50);
  server.set("k", "v1");
  const woken = await Promise.all(again);
  t.true(woken.every((r) => r.value === "v1"));
  await settle();
  t.is(server.calls.length, callsBefore + 1, "only the group's re-armed call");
});

test("forwarded queries: an index that moved with the same answer wakes nobody; the next change does", async (t) => {
  const { server, forwarded } = setup();
  server.set("k", "same");
  const index = server.answer("k").meta.index;
  let woken: ReadResult<unknown> | null = null;
  void forwarded.query(kv("k"), blocking(index)).then((r) => (woken = r));
  await settle();
  server.data.set("k", { index: index + 5, value: "same" });
  server.timeOutAll();
  await settle();
  t.is(woken, null, "the group's call returned at its wait with an unchanged answer");
  t.is(server.held.size, 1, "and was re-armed");
  t.is(server.calls.at(-1)!.options.index, index + 5);
  server.set("k", "changed");
  await settle();
  t.is(woken!.value, "changed");
});

test("forwarded queries: different queries and options are different groups", async (t) => {
  const { server, forwarded } = setup();
  server.set("a", 1);
  server.set("b", 2);
  const index = server.answer("b").meta.index;
  const got: string[] = [];
  void forwarded.query(kv("a"), blocking(index)).then(() => got.push("a"));
  void forwarded.query(kv("b"), blocking(index)).then(() => got.push("b"));
  void forwarded.query(kv("b"), { ...blocking(index), consistency: "stale" }).then(() => got.push("b stale"));
  void forwarded.query(kv("b"), { ...blocking(index), filter: "x" }).then(() => got.push("b filtered"));
  await settle();
  t.is(forwarded.groupCount, 4);
  t.deepEqual(got, []);
  server.set("b", 3);
  await settle();
  t.deepEqual(got.sort(), ["b", "b filtered", "b stale"], "a write to b wakes b's groups, not a's");
  server.set("a", 4);
  await settle();
  t.is(got.length, 4);
});

test("forwarded queries: a watcher behind a running group's answer is sent on its own, for a fresh answer", async (t) => {
  const { server, forwarded } = setup();
  server.set("k", "v0");
  const index = server.answer("k").meta.index;
  const waiting = forwarded.query(kv("k"), blocking(index));
  await settle();
  const direct = forwarded.counters.direct;
  const behind = await forwarded.query(kv("k"), blocking(index - 3));
  t.is(forwarded.counters.direct, direct + 1);
  t.is(behind.value, "v0");
  server.set("k", "v1");
  t.is((await waiting).value, "v1");
  const late = await forwarded.query(kv("k"), blocking(index));
  t.is(late.value, "v1", "the group's answer is past its index: a direct read answers");
});

test("forwarded queries: a watcher's own wait ends with the unchanged answer at an index never below its own", async (t) => {
  const server = new FakeServer();
  const forwarded = new ForwardedQueries(server.forward, { idleMs: 50, groupWaitMs: 300_000, jitterMs: () => 5 });
  server.set("k", "v0");
  const index = server.answer("k").meta.index;
  const started = Date.now();
  const ahead = await forwarded.query(kv("k"), blocking(index + 100, 30));
  t.true(Date.now() - started >= 30, "waited its wait (plus jitter)");
  t.is(ahead.value, "v0");
  t.is(ahead.meta.index, index + 100, "the index never goes back for the watcher");
  const exact = await forwarded.query(kv("k"), blocking(index, 20));
  t.is(exact.meta.index, index);
});

test("forwarded queries: a gone watcher leaves; an idle group cancels its call and is dropped", async (t) => {
  const { server, forwarded } = setup(30);
  server.set("k", "v0");
  const index = server.answer("k").meta.index;
  const controller = new AbortController();
  const left = forwarded.query(kv("k"), blocking(index), controller.signal);
  await settle();
  t.is(server.held.size, 1);
  controller.abort();
  t.is((await left).value, "v0");
  t.is(forwarded.waiterCount, 0);
  t.is(forwarded.groupCount, 1, "kept a moment for watchers that re-arm");
  await new Promise((resolve) => setTimeout(resolve, 80));
  t.is(forwarded.groupCount, 0);
  t.is(server.held.size, 0, "the group's call on the server was cancelled");
});

test("forwarded queries: a failed call fails its watchers with the error; the next watcher starts afresh", async (t) => {
  const { server, forwarded } = setup();
  server.set("k", "v0");
  const index = server.answer("k").meta.index;
  server.failNext = new Error("No known Consul servers");
  await t.throwsAsync(forwarded.query(kv("k"), blocking(index)), { message: "No known Consul servers" });
  t.is(forwarded.groupCount, 0);
  const waiters = [forwarded.query(kv("k"), blocking(index)), forwarded.query(kv("k"), blocking(index))];
  await settle();
  t.is(forwarded.waiterCount, 2);
  server.dropAll(new Error("connection to server lost"));
  for (const waiter of waiters) await t.throwsAsync(waiter, { message: "connection to server lost" });
  t.is(forwarded.groupCount, 0);
  t.is(server.held.size, 0);
  const fresh = forwarded.query(kv("k"), blocking(server.answer("k").meta.index));
  await settle();
  t.is(forwarded.groupCount, 1);
  server.set("k", "v2");
  t.is((await fresh).value, "v2");
});

test("forwarded queries: a read without an index is always its own call", async (t) => {
  const { server, forwarded } = setup();
  server.set("k", "v0");
  await forwarded.query(kv("k"), { consistency: "default" });
  await forwarded.query(kv("k"), { consistency: "default", index: 0, waitMs: 1000 });
  t.is(server.calls.length, 2);
  t.is(forwarded.groupCount, 0);
});
