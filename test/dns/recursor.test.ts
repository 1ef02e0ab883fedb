/**
 * Names outside the zone go to `-recursor` servers: here tiny dns-packet servers started by the
 * test, on UDP and TCP, that answer, truncate, fail, or stay silent on demand.
 */
import dgram from "node:dgram";
import net from "node:net";
import test from "ava";
import dnsPacket from "dns-packet";
import { dig, header, section, seedsBackend, serve, type Running } from "./harness.ts";

type Behaviour = "answer" | "servfail" | "silent";

interface Recursor {
  readonly port: number;
  readonly seen: { udp: number; tcp: number };
  close(): Promise<void>;
}

/** Big answers (40 A records) are truncated over UDP, as a real server does, and whole over TCP. */
function reply(query: Buffer, transport: "udp" | "tcp", behaviour: Behaviour): Buffer | null {
  if (behaviour === "silent") return null;
  const packet = dnsPacket.decode(query);
  const question = packet.questions![0]!;
  const base = { id: packet.id, type: "response" as const, questions: [question] };
  if (behaviour === "servfail") return dnsPacket.encode({ ...base, flags: dnsPacket.RECURSION_AVAILABLE | 2 });
  const ok = dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE;
  if (question.name === "big.example.com") {
    if (transport === "udp") return dnsPacket.encode({ ...base, flags: ok | dnsPacket.TRUNCATED_RESPONSE });
    const answers = Array.from({ length: 40 }, (_, i) => ({ type: "A" as const, name: question.name, ttl: 60, data: `198.51.100.${i + 1}` }));
    return dnsPacket.encode({ ...base, flags: ok, answers });
  }
  if (question.name === "missing.example.com") return dnsPacket.encode({ ...base, flags: ok | 3 });
  if (question.name === "5.4.3.2.in-addr.arpa") {
    return dnsPacket.encode({ ...base, flags: ok, answers: [{ type: "PTR", name: question.name, ttl: 60, data: "host.example.com" }] });
  }
  return dnsPacket.encode({ ...base, flags: ok, answers: [{ type: "A", name: question.name, ttl: 300, data: "192.0.2.80" }] });
}

/**
 * UDP takes an ephemeral port and TCP must then listen on the same number, which another process
 * may hold: try again on a fresh port rather than fail (and never leave the UDP socket open, which
 * would keep the worker alive).
 */
async function startRecursor(behaviour: Behaviour): Promise<Recursor> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startRecursorOnce(behaviour);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EADDRINUSE" || attempt >= 20) throw error;
    }
  }
}

async function startRecursorOnce(behaviour: Behaviour): Promise<Recursor> {
  const seen = { udp: 0, tcp: 0 };
  const udp = dgram.createSocket("udp4");
  udp.on("message", (message, remote) => {
    seen.udp++;
    const answer = reply(message, "udp", behaviour);
    if (answer !== null) udp.send(answer, remote.port, remote.address);
  });
  await new Promise<void>((resolve) => udp.bind(0, "127.0.0.1", resolve));
  const port = udp.address().port;
  const sockets = new Set<net.Socket>();
  const tcp = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => socket.destroy());
    let buffered: Buffer = Buffer.alloc(0);
    socket.on("data", (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 2 && buffered.length >= 2 + buffered.readUInt16BE(0)) {
        const frame = buffered.subarray(2, 2 + buffered.readUInt16BE(0));
        buffered = buffered.subarray(2 + frame.length);
        seen.tcp++;
        const answer = reply(frame, "tcp", behaviour);
        if (answer === null) continue;
        const length = Buffer.alloc(2);
        length.writeUInt16BE(answer.length, 0);
        socket.write(Buffer.concat([length, answer]));
      }
    });
  });
  try {
    await new Promise<void>((resolve, reject) => {
      tcp.once("error", reject);
      tcp.listen(port, "127.0.0.1", resolve);
    });
  } catch (error) {
    await new Promise<void>((resolve) => udp.close(() => resolve()));
    throw error;
  }
  return {
    port, seen,
    close: () => new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      udp.close(() => tcp.close(() => resolve()));
    }),
  };
}

/** A loopback port with nothing listening on UDP or TCP. */
async function deadPort(): Promise<number> {
  const socket = dgram.createSocket("udp4");
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
  const port = socket.address().port;
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}

const closers: (() => Promise<void>)[] = [];
test.after.always(async () => {
  for (const close of closers) await close();
});

async function praetorWith(recursors: string[], recursorTimeoutMs = 4000): Promise<Running> {
  const running = await serve(seedsBackend(), { recursors, recursorTimeoutMs });
  closers.push(running.close);
  return running;
}

async function recursor(behaviour: Behaviour): Promise<Recursor> {
  const started = await startRecursor(behaviour);
  closers.push(started.close);
  return started;
}

test.serial("a name outside the domain is answered by the recursor, with RA set", async (t) => {
  const upstream = await recursor("answer");
  const praetor = await praetorWith([`127.0.0.1:${upstream.port}`]);
  const out = await dig(praetor.port, "www.example.com");
  t.is(header(out).status, "NOERROR");
  t.true(header(out).flags.includes("ra"));
  t.deepEqual(section(out, "ANSWER"), ["www.example.com. 300 IN A 192.0.2.80"]);
  t.is(upstream.seen.udp, 1);
  // Names in the domain never leave, and answers there advertise recursion too.
  const local = await dig(praetor.port, "web.service.consul");
  t.true(header(local).flags.includes("ra"));
  t.is(upstream.seen.udp, 1);
  // NXDOMAIN from the recursor is an answer, passed on as it is.
  t.is(header(await dig(praetor.port, "missing.example.com")).status, "NXDOMAIN");
});

test.serial("a truncated UDP answer from the recursor is fetched again over TCP", async (t) => {
  const upstream = await recursor("answer");
  const praetor = await praetorWith([`127.0.0.1:${upstream.port}`]);
  const out = await dig(praetor.port, "+bufsize=4096", "big.example.com");
  t.is(header(out).counts["ANSWER"], 40);
  t.is(upstream.seen.udp, 1);
  t.is(upstream.seen.tcp, 1);
  // Too big for a client without EDNS: Praetor answers TC, dig retries over TCP, the recursor is asked over TCP.
  const small = await dig(praetor.port, "+noedns", "+ignore", "big.example.com");
  t.true(header(small).flags.includes("tc"));
  t.is(header(small).counts["ANSWER"], 0);
  const retried = await dig(praetor.port, "+noedns", "big.example.com");
  t.is(header(retried).counts["ANSWER"], 40);
});

test.serial("recursors are tried in order: a dead one, then one answering SERVFAIL, then a good one", async (t) => {
  const failing = await recursor("servfail");
  const good = await recursor("answer");
  // A closed UDP port gives no error to an unconnected socket: the dead recursor costs a whole
  // timeout, so keep it short enough that dig's own 10 s wait is never the limit on a loaded machine.
  const praetor = await praetorWith([`127.0.0.1:${await deadPort()}`, `127.0.0.1:${failing.port}`, `127.0.0.1:${good.port}`], 1000);
  const out = await dig(praetor.port, "www.example.com");
  t.deepEqual(section(out, "ANSWER"), ["www.example.com. 300 IN A 192.0.2.80"]);
  t.is(failing.seen.udp, 1);
  t.is(good.seen.udp, 1);
});

test.serial("every recursor failing or silent past the timeout is SERVFAIL", async (t) => {
  const silent = await recursor("silent");
  const failing = await recursor("servfail");
  const praetor = await praetorWith([`127.0.0.1:${silent.port}`, `127.0.0.1:${failing.port}`], 300);
  const started = Date.now();
  const out = await dig(praetor.port, "www.example.com");
  const elapsedMs = Date.now() - started;
  t.is(header(out).status, "SERVFAIL");
  t.true(header(out).flags.includes("ra"));
  t.false(header(out).flags.includes("aa"));
  t.is(silent.seen.udp, 1);
  t.true(elapsedMs < 4500, `${elapsedMs} ms`);
  t.is(praetor.handler.stats.serverFailures, 1);
});

test.serial("without recursors a name outside the domain is REFUSED", async (t) => {
  const praetor = await praetorWith([]);
  const out = await dig(praetor.port, "www.example.com");
  t.is(header(out).status, "REFUSED");
  t.false(header(out).flags.includes("aa"));
  t.false(header(out).flags.includes("ra"));
});

test.serial("a reverse name Praetor does not know goes to the recursor", async (t) => {
  const upstream = await recursor("answer");
  const praetor = await praetorWith([`127.0.0.1:${upstream.port}`]);
  t.deepEqual(section(await dig(praetor.port, "-x", "2.3.4.5"), "ANSWER"), ["5.4.3.2.in-addr.arpa. 60 IN PTR host.example.com."]);
  t.deepEqual(section(await dig(praetor.port, "-x", "127.0.0.1"), "ANSWER"), ["1.0.0.127.in-addr.arpa. 0 IN PTR VM-0-17-centos.node.dc1.consul."]);
});
