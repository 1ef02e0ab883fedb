import test from "ava";
import dgram from "node:dgram";
import net from "node:net";
import type { AddressInfo } from "node:net";
import { runTcp } from "../../src/agent/checks/tcp.ts";
import { runUdp } from "../../src/agent/checks/udp.ts";
import { splitHostPort } from "../../src/agent/checks/probe.ts";
import { def, signalNever, testRunner, waitFor } from "./helpers.ts";

const opts = { timeoutMs: 5000, outputMaxBytes: 4096, signal: signalNever };

function listenTcp(): Promise<net.Server> {
  const server = net.createServer((socket) => socket.destroy());
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

test("runner: a TCP port opened then closed turns the check passing, then critical", async (t) => {
  const server = await listenTcp();
  const address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  const { runner, changes } = testRunner();
  t.teardown(() => runner.stop());
  runner.add(def({ tcp: address, interval: "30ms" }, "db"), { origin: "local" });
  await waitFor(changes, (c) => c.status === "passing", "open port passing");
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await waitFor(changes, (c) => c.status === "critical", "closed port critical");
  t.deepEqual(changes.map((c) => [c.id, c.status, c.output]), [
    ["service:db", "passing", `TCP connect ${address}: Success`],
    ["service:db", "critical", `dial tcp ${address}: connect: connection refused`],
  ]);
});

test("tcp: an address without a port is critical with Go's SplitHostPort error", async (t) => {
  t.deepEqual(await runTcp("localhost", opts), { status: "critical", output: "dial tcp: address localhost: missing port in address" });
  t.deepEqual(await runTcp("127.0.0.1:99999", opts), { status: "critical", output: "dial tcp: address 127.0.0.1:99999: invalid port" });
});

test("tcp: IPv6 loopback in brackets", async (t) => {
  const server = net.createServer((s) => s.destroy());
  const listening = await new Promise<boolean>((resolve) => {
    server.once("error", () => resolve(false));
    server.listen(0, "::1", () => resolve(true));
  });
  if (!listening) {
    t.pass("no IPv6 loopback here");
    return;
  }
  t.teardown(() => server.close());
  const address = `[::1]:${(server.address() as AddressInfo).port}`;
  t.deepEqual(await runTcp(address, opts), { status: "passing", output: `TCP connect ${address}: Success` });
});

test("splitHostPort follows Go: brackets for IPv6, the last colon otherwise", (t) => {
  t.deepEqual(splitHostPort("[::1]:80"), { host: "::1", port: 80 });
  t.deepEqual(splitHostPort("db.local:5432"), { host: "db.local", port: 5432 });
  t.deepEqual(splitHostPort(":8080"), { host: "localhost", port: 8080 });
  t.deepEqual(splitHostPort("::1:80"), { error: "address ::1:80: too many colons in address" });
  t.deepEqual(splitHostPort("[::1]"), { error: "address [::1]: missing port in address" });
});

test("udp: silence is passing, a reply is passing, an ICMP refusal is critical", async (t) => {
  const silent = dgram.createSocket("udp4");
  let received = 0;
  silent.on("message", () => received++);
  await new Promise<void>((resolve) => silent.bind(0, "127.0.0.1", resolve));
  const echo = dgram.createSocket("udp4");
  echo.on("message", (msg, rinfo) => echo.send(new Uint8Array([1]), rinfo.port, rinfo.address));
  await new Promise<void>((resolve) => echo.bind(0, "127.0.0.1", resolve));
  const closed = dgram.createSocket("udp4");
  await new Promise<void>((resolve) => closed.bind(0, "127.0.0.1", resolve));
  const closedPort = closed.address().port;
  await new Promise<void>((resolve) => closed.close(() => resolve()));
  t.teardown(() => {
    silent.close();
    echo.close();
  });

  const silentAddress = `127.0.0.1:${silent.address().port}`;
  const started = Date.now();
  t.deepEqual(await runUdp(silentAddress, { ...opts, timeoutMs: 200 }), { status: "passing", output: `UDP connect ${silentAddress}: Success` });
  t.true(Date.now() - started >= 190, "silence is only known at the timeout");
  t.is(received, 1, "one datagram was sent");

  const echoAddress = `127.0.0.1:${echo.address().port}`;
  t.deepEqual(await runUdp(echoAddress, { ...opts, timeoutMs: 5000 }), { status: "passing", output: `UDP connect ${echoAddress}: Success` });

  const refused = await runUdp(`127.0.0.1:${closedPort}`, opts);
  t.is(refused.status, "critical");
  t.regex(refused.output, new RegExp(`^read udp 127\\.0\\.0\\.1:\\d+->127\\.0\\.0\\.1:${closedPort}: read: connection refused$`));
});

test("runner: a UDP check against a closed port goes critical", async (t) => {
  const closed = dgram.createSocket("udp4");
  await new Promise<void>((resolve) => closed.bind(0, "127.0.0.1", resolve));
  const port = closed.address().port;
  await new Promise<void>((resolve) => closed.close(() => resolve()));
  const { runner, changes } = testRunner();
  t.teardown(() => runner.stop());
  runner.add(def({ name: "dns", udp: `127.0.0.1:${port}`, interval: "50ms", timeout: "300ms", status: "passing" }), { origin: "remote" });
  const change = await waitFor(changes, (c) => c.status === "critical", "udp refused");
  t.is(change.id, "dns");
});
