/**
 * Drops are logged, with the sender and the reason, and rate-limited per reason; the counters the
 * agent's metrics read count every one. First the window logic on a fake clock, then real sockets:
 * 50 garbage datagrams from one sender make one line, and 50 counted drops.
 */
import test from "ava";
import dgram from "node:dgram";
import { DropLog, type GossipLogLevel } from "../../src/transports/gossip-log.ts";
import { GossipSockets, splitHostPort } from "../../src/transports/gossip-sockets.ts";
import { eventually } from "./serf-agent.ts";

type Line = { level: GossipLogLevel; msg: string; fields: Readonly<Record<string, unknown>> };

test("DropLog: the first drop of a reason logs at once; the rest of its window is folded into the next line", (t) => {
  let nowMs = 0;
  const lines: Line[] = [];
  const log = new DropLog((level, msg, fields) => lines.push({ level, msg, fields }), 1_000, () => nowMs);
  log.drop("warn", "bad-crc", "crc", { peer: "10.0.0.1:7946" });
  for (let i = 0; i < 9; i++) log.drop("warn", "bad-crc", "crc", { peer: "10.0.0.1:7946" });
  log.drop("warn", "truncated", "cut", { peer: "10.0.0.2:7946" });
  t.deepEqual(lines.map((l) => [l.fields.reason, l.fields.peer, l.fields.suppressedSinceLast]), [
    ["bad-crc", "10.0.0.1:7946", undefined], ["truncated", "10.0.0.2:7946", undefined],
  ], "one line per reason in a window");
  nowMs = 999;
  log.drop("warn", "bad-crc", "crc", { peer: "10.0.0.1:7946" });
  t.is(lines.length, 2, "still inside the window");
  nowMs = 1_000;
  log.drop("warn", "bad-crc", "crc", { peer: "10.0.0.3:7946" });
  t.deepEqual(lines[2]!.fields, { peer: "10.0.0.3:7946", reason: "bad-crc", suppressedSinceLast: 10 });
  t.deepEqual([log.linesLogged, log.linesSuppressed], [3, 10]);
  new DropLog(undefined).drop("warn", "x", "no logger: nothing happens", {});
});

test("garbage datagrams are counted by reason and logged once per window with the sender's address", async (t) => {
  const lines: Line[] = [];
  const s = await GossipSockets.open({ bindHost: "127.0.0.1", bindPort: 0, logger: (level, msg, fields) => lines.push({ level, msg, fields }), dropLogIntervalMs: 60_000 });
  s.onMessage(() => t.fail("garbage must not be delivered"));
  const sender = dgram.createSocket("udp4");
  await new Promise<void>((r) => sender.bind(0, "127.0.0.1", () => r()));
  t.teardown(async () => {
    sender.close();
    await s.close();
  });
  const { host, port } = splitHostPort(s.localAddr);
  for (let i = 0; i < 50; i++) sender.send(Uint8Array.of(99, i), port, host);
  await eventually(() => (s.counters.dropped["unknown-type"] === 50 ? true : undefined), "50 drops counted", 10_000);
  t.is(lines.length, 1);
  t.is(lines[0]!.level, "warn");
  t.is(lines[0]!.fields.peer, `127.0.0.1:${sender.address().port}`);
  t.is(lines[0]!.fields.reason, "unknown-type");
  t.regex(lines[0]!.msg, new RegExp(`from 127\\.0\\.0\\.1:${sender.address().port}`));
  t.deepEqual(s.logStats, { logged: 1, suppressed: 49 });
  t.is(s.counters.udpBytesIn, 100);
});
