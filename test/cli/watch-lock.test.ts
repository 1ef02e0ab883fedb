/**
 * watch and lock against a fake KV/session API with Consul's blocking and locking semantics,
 * running real child processes.
 */
import test from "ava";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { runCli } from "../../src/cli/program.ts";
import { captureIo } from "./fake-agent.ts";
import { fakeKv } from "./fake-kv.ts";

const until = async (what: string, cond: () => boolean, timeoutMs = 10_000) => {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
};

function tempDir(t: { teardown(fn: () => void): void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "praetor-wl-"));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test("watch without a handler prints the current value as JSON and exits", async (t) => {
  const kv = await fakeKv();
  t.teardown(() => kv.close());
  kv.put("app/x", "hello");
  const { io, stdout } = captureIo({ CONSUL_HTTP_ADDR: kv.addr });
  t.is(await runCli(["watch", "-type", "key", "-key", "app/x"], io), 0);
  const printed = JSON.parse(stdout()) as { Key: string; Value: string };
  t.is(printed.Key, "app/x");
  t.is(Buffer.from(printed.Value, "base64").toString(), "hello");
  t.regex(stdout(), /^\{\n {4}"Key": "app\/x",\n/);
  const missing = captureIo({ CONSUL_HTTP_ADDR: kv.addr });
  t.is(await runCli(["watch", "-type", "key", "-key", "app/none"], missing.io), 0);
  t.is(missing.stdout(), "null\n");
});

test("watch runs its handler at start and on every change, with the JSON on stdin and CONSUL_INDEX set", async (t) => {
  const kv = await fakeKv();
  t.teardown(() => kv.close());
  const dir = tempDir(t);
  kv.put("app/a", "1");
  const stop = new AbortController();
  const { io } = captureIo({ CONSUL_HTTP_ADDR: kv.addr }, stop.signal);
  const data = path.join(dir, "data");
  const running = runCli(["watch", "-type", "keyprefix", "-prefix", "app/", `echo $CONSUL_INDEX >> ${dir}/idx; cat >> ${data}`], io);
  const runs = () => (fs.existsSync(data) ? fs.readFileSync(data, "utf8").trim().split("\n").length : 0);
  await until("the first handler run", () => runs() === 1);
  kv.put("app/b", "2");
  await until("the second handler run", () => runs() === 2);
  stop.abort();
  t.is(await running, 0);
  const seen = fs.readFileSync(data, "utf8").trim().split("\n").map((l) => (JSON.parse(l) as { Key: string }[]).map((p) => p.Key));
  t.deepEqual(seen, [["app/a"], ["app/a", "app/b"]]);
  const indexes = fs.readFileSync(path.join(dir, "idx"), "utf8").trim().split("\n").map(Number);
  t.is(indexes.length, 2);
  t.true(indexes[1]! > indexes[0]!, `indexes ${indexes.join(",")}`);
});

test("watch: a failing handler stops the watch with Consul's message; bad parameters are refused", async (t) => {
  const kv = await fakeKv();
  t.teardown(() => kv.close());
  const failing = captureIo({ CONSUL_HTTP_ADDR: kv.addr });
  t.is(await runCli(["watch", "-type", "keyprefix", "-prefix", "app/", "exit 3"], failing.io), 1);
  t.regex(failing.stderr(), /Error executing handler: exit status 3\n$/);
  const cases: [string[], string][] = [
    [["watch"], "Watch type must be specified"],
    [["watch", "-type", "galaxy"], "Unsupported watch type: galaxy"],
    [["watch", "-type", "key"], "Must specify a single key to watch"],
    [["watch", "-type", "service"], "Must specify a single service to watch"],
    [["watch", "-type", "checks", "-service", "a", "-state", "critical"], "Cannot specify service and state"],
  ];
  for (const [argv, message] of cases) {
    const { io, stderr } = captureIo({ CONSUL_HTTP_ADDR: kv.addr });
    t.is(await runCli(argv, io), 1);
    t.is(stderr(), `${message}\n`);
  }
});

test("lock runs the child while holding PREFIX/.lock, then releases the key and destroys the session", async (t) => {
  const kv = await fakeKv();
  t.teardown(() => kv.close());
  const { io, stdout, stderr } = captureIo({ CONSUL_HTTP_ADDR: kv.addr });
  t.is(await runCli(["lock", "/app/lock/", "echo held by $0"], io), 0, stderr());
  t.is(stdout(), "held by /bin/sh\n");
  const lock = kv.entries.get("app/lock/.lock");
  t.truthy(lock);
  t.is(lock!.session, undefined);
  t.is(lock!.flags, "3304740253564472344");
  t.is(kv.sessions.size, 0);
});

test("two locks on one prefix never overlap", async (t) => {
  const kv = await fakeKv();
  t.teardown(() => kv.close());
  const dir = tempDir(t);
  const log = path.join(dir, "log");
  const child = `echo start >> ${log}; sleep 0.3; echo end >> ${log}`;
  const runs = [0, 1, 2].map(() => runCli(["lock", "app/mutex", child], captureIo({ CONSUL_HTTP_ADDR: kv.addr }).io));
  t.deepEqual(await Promise.all(runs), [0, 0, 0]);
  t.deepEqual(fs.readFileSync(log, "utf8").trim().split("\n"), ["start", "end", "start", "end", "start", "end"]);
});

test("-n 2: a semaphore lets two children run at once, never three", async (t) => {
  const kv = await fakeKv();
  t.teardown(() => kv.close());
  const dir = tempDir(t);
  const log = path.join(dir, "log");
  // Each holder waits (up to 5 s) until a second has started, so a 2-slot semaphore shows its
  // second slot however slowly the machine spawns processes; a third start would be a violation.
  const child = `echo start >> ${log}; i=0; while [ $(grep -c start ${log}) -lt 2 ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done; sleep 0.2; echo end >> ${log}`;
  const runs = [0, 1, 2, 3].map(() => runCli(["lock", "-n", "2", "app/sem", child], captureIo({ CONSUL_HTTP_ADDR: kv.addr }).io));
  t.deepEqual(await Promise.all(runs), [0, 0, 0, 0]);
  let running = 0;
  let most = 0;
  for (const line of fs.readFileSync(log, "utf8").trim().split("\n")) {
    running += line === "start" ? 1 : -1;
    most = Math.max(most, running);
  }
  t.is(running, 0);
  t.true(most <= 2, `at most 2 holders at once, saw ${most}`);
  t.is(most, 2);
  const state = JSON.parse(kv.entries.get("app/sem/.lock")!.value.toString()) as { Limit: number; Holders: Record<string, boolean> };
  t.deepEqual(state, { Limit: 2, Holders: {} });
});

test("a lost lock kills the child and exits 1", async (t) => {
  const kv = await fakeKv();
  t.teardown(() => kv.close());
  const dir = tempDir(t);
  const { io, stderr } = captureIo({ CONSUL_HTTP_ADDR: kv.addr });
  const running = runCli(["lock", "app/lock", `touch ${dir}/started; exec sleep 30`], io);
  await until("the child to start", () => fs.existsSync(path.join(dir, "started")), 30_000);
  const holder = kv.entries.get("app/lock/.lock")!.session!;
  kv.expire(holder);
  const expiredMs = Date.now();
  t.is(await running, 1);
  t.is(stderr(), "Lock lost, killing child\n");
  t.true(Date.now() - expiredMs < 20_000, "the child (sleep 30) was killed, not waited for");
});

test("-timeout gives up while another session holds the lock; argument errors", async (t) => {
  const kv = await fakeKv();
  t.teardown(() => kv.close());
  kv.sessions.add("other");
  kv.put("app/lock/.lock", "");
  kv.entries.get("app/lock/.lock")!.session = "other";
  const { io, stderr } = captureIo({ CONSUL_HTTP_ADDR: kv.addr });
  t.is(await runCli(["lock", "-timeout", "300ms", "app/lock", "echo never"], io), 1);
  t.is(stderr(), "Shutdown triggered or timeout during lock acquisition\n");
  t.deepEqual([...kv.sessions], ["other"]);
  for (const [argv, message] of [[["lock", "app"], "Key prefix and child command must be specified"], [["lock", "-n", "0", "app", "true"], "Lock holder limit must be positive"]] as const) {
    const r = captureIo({ CONSUL_HTTP_ADDR: kv.addr });
    t.is(await runCli([...argv], r.io), 1);
    t.is(r.stderr(), `${message}\n`);
  }
});

test("watch with a handler keeps retrying through errors, backing off, until interrupted", async (t) => {
  const kv = await fakeKv();
  t.teardown(() => kv.close());
  const stop = new AbortController();
  const { io, stderr } = captureIo({ CONSUL_HTTP_ADDR: kv.addr }, stop.signal);
  // The fake serves no catalog: every fetch fails.
  const running = runCli(["watch", "-type", "nodes", "cat"], io);
  await until("two failed attempts", () => stderr().split("\n").length > 2, 15_000);
  stop.abort();
  t.is(await running, 0);
  t.deepEqual(stderr().trim().split("\n").slice(0, 2), [
    "Watch errored: Unexpected response code: 404 (no route), retry in 1s",
    "Watch errored: Unexpected response code: 404 (no route), retry in 2s",
  ]);
});
