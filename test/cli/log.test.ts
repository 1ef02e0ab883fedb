import test from "ava";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { createLogger, formatJsonTimestamp, formatTextTimestamp, formatTextValue } from "../../src/agent/log.ts";

/** 2026-12-02T14:06:06.123Z */
const fixedMs = Date.UTC(2026, 11, 2, 14, 6, 6, 123);
const utc = process.env.TZ === "UTC" || new Date(fixedMs).getTimezoneOffset() === 0;

function capture(options: { level: "trace" | "debug" | "info" | "warn" | "error"; json?: boolean; file?: string }) {
  const lines: string[] = [];
  const logger = createLogger({ ...options, write: (line) => lines.push(line), nowMs: () => fixedMs });
  return { logger, lines };
}

test("text lines in Consul's format: timestamp, padded level, module, message, key=value", (t) => {
  const { logger, lines } = capture({ level: "trace" });
  const server = logger.named("agent").named("server");
  server.info("cluster leadership acquired", { term: 2, leader: "n1 (127.0.0.1)", empty: "", err: new Error("boom") });
  server.warn("heartbeat timeout reached, starting election");
  logger.named("agent.server.raft").error("failed", { peer: "a=b" });
  logger.debug("root line", { n: 1.5, on: true, list: [1, 2] });
  logger.trace("t");
  const ts = formatTextTimestamp(fixedMs);
  t.deepEqual(lines, [
    `${ts} [INFO]  agent.server: cluster leadership acquired: term=2 leader="n1 (127.0.0.1)" empty= err=boom\n`,
    `${ts} [WARN]  agent.server: heartbeat timeout reached, starting election\n`,
    `${ts} [ERROR] agent.server.raft: failed: peer="a=b"\n`,
    `${ts} [DEBUG] root line: n=1.5 on=true list=[1,2]\n`,
    `${ts} [TRACE] t\n`,
  ]);
  if (utc) t.is(ts, "2026-12-02T14:06:06.123Z");
});

test("JSON lines carry hclog's keys and the fields as they are", (t) => {
  const { logger, lines } = capture({ level: "info", json: true });
  logger.named("agent").info("Synced node info", { node: "n1", port: 8500, err: new Error("x") });
  t.is(lines.length, 1);
  t.true(lines[0]!.endsWith("\n"));
  t.deepEqual(JSON.parse(lines[0]!), {
    "@level": "info", "@message": "Synced node info", "@module": "agent", "@timestamp": formatJsonTimestamp(fixedMs), node: "n1", port: 8500, err: "x",
  });
  if (utc) t.is(formatJsonTimestamp(fixedMs), "2026-12-02T14:06:06.123000Z");
});

test("levels filter, and setLevel changes every named logger at once (SIGHUP reload)", (t) => {
  const { logger, lines } = capture({ level: "warn" });
  const child = logger.named("agent");
  child.info("dropped");
  child.warn("kept 1");
  logger.setLevel("debug");
  t.is(logger.level, "debug");
  child.debug("kept 2");
  child.trace("dropped");
  logger.setLevel("error");
  child.warn("dropped");
  child.error("kept 3");
  t.deepEqual(lines.map((l) => l.replace(/^\S+ /, "")), ["[WARN]  agent: kept 1\n", "[DEBUG] agent: kept 2\n", "[ERROR] agent: kept 3\n"]);
});

test("a subscriber (monitor) may listen below the agent's level without changing what the agent prints", (t) => {
  const { logger, lines } = capture({ level: "info" });
  const seen: string[] = [];
  const seenJson: string[] = [];
  const log = logger.named("agent");
  t.false(log.isLevelEnabled("debug"));
  const off = logger.subscribe({ level: "debug" }, (line) => seen.push(line));
  const offJson = logger.subscribe({ level: "warn", json: true }, (line) => seenJson.push(line));
  t.true(log.isLevelEnabled("debug"));
  log.debug("for the monitor only");
  log.info("for everyone");
  log.warn("warned");
  off();
  log.debug("for nobody");
  offJson();
  log.warn("after both left");
  t.false(log.isLevelEnabled("debug"));
  t.deepEqual(lines.map((l) => l.replace(/^\S+ /, "")), ["[INFO]  agent: for everyone\n", "[WARN]  agent: warned\n", "[WARN]  agent: after both left\n"]);
  t.deepEqual(seen.map((l) => l.replace(/^\S+ /, "")), ["[DEBUG] agent: for the monitor only\n", "[INFO]  agent: for everyone\n", "[WARN]  agent: warned\n"]);
  t.deepEqual(seenJson.map((l) => JSON.parse(l)["@message"]), ["warned"]);
});

test("a subscriber that throws does not stop the log", (t) => {
  const { logger, lines } = capture({ level: "info" });
  logger.subscribe({ level: "info" }, () => {
    throw new Error("closed connection");
  });
  logger.info("one");
  logger.info("two");
  t.is(lines.length, 2);
});

test("-log-file: a file path appends, a directory gets praetor-<ms>.log; stdout still gets every line", (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "praetor-log-"));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, "nested", "agent.log");
  const a = capture({ level: "info", file });
  a.logger.info("first");
  a.logger.close();
  const b = capture({ level: "info", file });
  b.logger.info("second");
  b.logger.close();
  t.deepEqual(fs.readFileSync(file, "utf8").split("\n").filter(Boolean).map((l) => l.replace(/^\S+ /, "")), ["[INFO]  first", "[INFO]  second"]);
  t.is(a.lines.length, 1);
  const c = capture({ level: "info", file: `${dir}/logs/` });
  c.logger.warn("in a directory");
  c.logger.close();
  t.deepEqual(fs.readdirSync(path.join(dir, "logs")), [`praetor-${fixedMs}.log`]);
});

test("values print bare when safe, quoted when not, and multi-line values as hclog's block", (t) => {
  t.is(formatTextValue("127.0.0.1:8300"), "127.0.0.1:8300");
  t.is(formatTextValue(""), "");
  t.is(formatTextValue("two words"), '"two words"');
  t.is(formatTextValue('say "hi"'), '"say \\"hi\\""');
  t.is(formatTextValue("é"), '"é"');
  t.is(formatTextValue(undefined), "<nil>");
  t.is(formatTextValue(null), "null");
  t.is(formatTextValue({ a: 1 }), JSON.stringify('{"a":1}'));
  t.is(formatTextValue("l1\nl2"), "\n  | l1\n  | l2");
});
