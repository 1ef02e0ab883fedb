/**
 * The sockets: UDP and TCP on one port, several framed queries on one TCP connection, garbage
 * closing a TCP stream, idle connections closed, the connection limit, a port in use named with
 * the flag that changes it, and close() stopping both.
 */
import net from "node:net";
import test from "ava";
import dnsPacket from "dns-packet";
import { defaultDnsConfig } from "../../src/dns/config.ts";
import { createDnsHandler } from "../../src/dns/handler.ts";
import { DnsPortError, startDnsServer } from "../../src/dns/server.ts";
import { queryPacket, seedsBackend, tcpExchange, udpExchange } from "./harness.ts";

const handler = createDnsHandler(seedsBackend().asBackend(), defaultDnsConfig());

test("UDP and TCP share the port; one TCP connection carries several queries, each answered", async (t) => {
  const server = await startDnsServer({ host: "127.0.0.1", port: 0, handler });
  try {
    t.is(server.udpPort, server.tcpPort);
    const udp = await udpExchange(server.udpPort, queryPacket("web.service.consul", "A"));
    t.is(dnsPacket.decode(udp!).answers![0]!.name, "web.service.consul");
    const names = ["web.service.consul", "VM-0-17-centos.node.consul", "redis.service.consul", "consul"];
    const frames = names.map((name, i) => ({ ...dnsPacket.decode(queryPacket(name, "A")), id: 100 + i })).map((packet) => dnsPacket.encode(packet));
    const answers = await tcpExchange(server.tcpPort, frames, frames.length);
    t.is(answers.length, 4);
    t.deepEqual(answers.map((answer) => dnsPacket.decode(answer).id).sort(), [100, 101, 102, 103]);
    // A frame split across writes is reassembled.
    const frame = queryPacket("web.service.consul", "SRV");
    const socket = net.connect({ host: "127.0.0.1", port: server.tcpPort });
    const answer = await new Promise<Buffer>((resolve, reject) => {
      let buffered: Buffer = Buffer.alloc(0);
      socket.on("error", reject);
      socket.on("data", (chunk: Buffer) => {
        buffered = Buffer.concat([buffered, chunk]);
        if (buffered.length >= 2 && buffered.length >= 2 + buffered.readUInt16BE(0)) resolve(buffered.subarray(2));
      });
      const length = Buffer.alloc(2);
      length.writeUInt16BE(frame.length, 0);
      socket.write(Buffer.concat([length, frame.subarray(0, 5)]));
      setTimeout(() => socket.write(frame.subarray(5)), 50);
    });
    socket.destroy();
    t.is(dnsPacket.decode(answer).answers![0]!.type, "SRV");
  } finally {
    await server.close();
  }
});

test("over TCP a malformed query gets FORMERR; bytes without a DNS header close the connection", async (t) => {
  const server = await startDnsServer({ host: "127.0.0.1", port: 0, handler });
  try {
    const bad = queryPacket("web.service.consul", "A").subarray(0, 16);
    const [formerr] = await tcpExchange(server.tcpPort, [bad], 1);
    t.is(formerr!.readUInt16BE(2) & 0xf, 1);
    const answers = await tcpExchange(server.tcpPort, [Buffer.from([1, 2, 3]), queryPacket("web.service.consul", "A")], 2, 1000);
    t.is(answers.length, 0, "the connection closed at the garbage frame");
  } finally {
    await server.close();
  }
});

test("idle TCP connections are closed after the idle timeout; beyond the limit connections are refused", async (t) => {
  const server = await startDnsServer({ host: "127.0.0.1", port: 0, handler, tcpIdleTimeoutMs: 200, tcpConnectionsMax: 1 });
  try {
    const first = net.connect({ host: "127.0.0.1", port: server.tcpPort });
    await new Promise((resolve) => first.once("connect", resolve));
    const started = Date.now();
    const firstClosed = new Promise<number>((resolve) => first.once("close", () => resolve(Date.now())));
    const second = net.connect({ host: "127.0.0.1", port: server.tcpPort });
    second.on("error", () => {});
    const secondClosedAt = await new Promise<number>((resolve) => second.once("close", () => resolve(Date.now())));
    const firstClosedAt = await firstClosed;
    t.true(secondClosedAt < firstClosedAt, "the second connection is dropped at once, before the first idles out");
    const idleMs = firstClosedAt - started;
    t.true(idleMs >= 150 && idleMs < 5000, `closed after ${idleMs} ms`);
  } finally {
    await server.close();
  }
});

test("a port in use is refused with a message naming the port and -dns-port", async (t) => {
  const first = await startDnsServer({ host: "127.0.0.1", port: 0, handler });
  try {
    const error = await t.throwsAsync(startDnsServer({ host: "127.0.0.1", port: first.udpPort, handler }), { instanceOf: DnsPortError });
    t.regex(error!.message, new RegExp(`DNS port ${first.udpPort} \\(udp\\) on 127\\.0\\.0\\.1 is already in use.*-dns-port`));
    // A TCP-only clash is named too.
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
    const tcpPort = (blocker.address() as net.AddressInfo).port;
    const tcpError = await t.throwsAsync(startDnsServer({ host: "127.0.0.1", port: tcpPort, handler }), { instanceOf: DnsPortError });
    t.regex(tcpError!.message, new RegExp(`DNS port ${tcpPort} \\(tcp\\).*-dns-port`));
    await new Promise((resolve) => blocker.close(resolve));
    await t.throwsAsync(startDnsServer({ host: "127.0.0.1", port: 70000, handler }), { message: /DNS port 70000 is not 0-65535 \(-dns-port\)/ });
  } finally {
    await first.close();
  }
});

test("close() stops both protocols and frees the port", async (t) => {
  const server = await startDnsServer({ host: "127.0.0.1", port: 0, handler });
  const port = server.udpPort;
  await server.close();
  t.is(await udpExchange(port, queryPacket("web.service.consul", "A"), 300), null);
  const again = await startDnsServer({ host: "127.0.0.1", port, handler });
  t.is(again.udpPort, port);
  await again.close();
});
