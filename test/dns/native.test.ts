/**
 * The native UDP fast path (src/dns/native.ts, native/dns-fast) against the JavaScript path: the
 * same queries, plain and mutated, to one server of each over the same catalog, and the answers
 * compared with the records of each section sorted (the shuffle is the one thing allowed to
 * differ). Then what the native copies must never do: outlive a health change, answer in one
 * fixed order, or pick anything but the JavaScript path's records when the answer limit cuts.
 * Without the addon built (npm run build:native) these fail: CI builds it.
 */
import { spawnSync } from "node:child_process";
import { writeFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import test from "ava";
import dnsPacket from "dns-packet";
import { defaultDnsConfig, type DnsConfig } from "../../src/dns/config.ts";
import { createDnsHandler } from "../../src/dns/handler.ts";
import { loadNativeDns } from "../../src/dns/native.ts";
import { startDnsServer, type DnsServer } from "../../src/dns/server.ts";
import { CatalogBackend, seeded, udpExchange } from "./harness.ts";

function world(): CatalogBackend {
  const backend = new CatalogBackend("dc1", "server-1");
  backend.node("server-1", "10.0.0.1");
  backend.service("server-1", { ID: "consul", Service: "consul", Port: 8300 });
  for (let i = 1; i <= 3; i++) {
    backend.node(`web-${i}`, `10.0.1.${i}`);
    backend.service(`web-${i}`, { ID: "web", Service: "web", Tags: ["v1"], Port: 8080 + i });
  }
  // More instances than udp_answer_limit (3), names of one length so every cut answer has one size.
  for (let i = 1; i <= 6; i++) {
    backend.node(`many-${i}`, `10.0.2.${i}`);
    backend.service(`many-${i}`, { ID: "many", Service: "many", Port: 9000 });
  }
  backend.node("six-1", "2001:db8::1");
  backend.service("six-1", { ID: "six", Service: "six", Port: 7000 });
  return backend;
}

interface Pair {
  readonly native: DnsServer;
  readonly js: DnsServer;
  close(): Promise<void>;
}

/** One server per path, each with its own handler (and cache) over the same catalog, as a server agent runs. */
async function pair(backend: CatalogBackend, config: Partial<DnsConfig> = {}): Promise<Pair> {
  const binding = loadNativeDns();
  if (typeof binding === "string") throw new Error(`the native DNS fast path is ${binding}`);
  const handlers = [0, 1].map(() => createDnsHandler(backend.asBackend(), { ...defaultDnsConfig(), ...config }, { readsAreLocal: true }));
  const native = await startDnsServer({ host: "127.0.0.1", port: 0, handler: handlers[0]! });
  const js = await startDnsServer({ host: "127.0.0.1", port: 0, handler: handlers[1]!, udpPath: "js" });
  if (native.udpPath !== "native" || js.udpPath !== "js") throw new Error(`paths: ${native.udpPath}, ${js.udpPath}`);
  return {
    native, js,
    async close() {
      await Promise.all([native.close(), js.close()]);
      for (const handler of handlers) handler.close();
    },
  };
}

/** An answer with each section's records sorted, the SOA serial (a clock) zeroed; raw hex if it does not decode. */
function canonical(answer: Buffer | null): string {
  if (answer === null) return "no answer";
  let decoded: dnsPacket.Packet;
  try {
    decoded = dnsPacket.decode(answer);
  } catch {
    return `undecodable ${answer.toString("hex")}`;
  }
  const records = (list: readonly unknown[] | undefined): string[] => (list ?? []).map((record) => {
    const copy = structuredClone(record) as { type?: string; data?: { serial?: number } };
    if (copy.type === "SOA" && copy.data !== undefined) copy.data.serial = 0;
    return JSON.stringify(copy);
  }).sort();
  return JSON.stringify({
    bytes: answer.length, header: answer.subarray(0, 12).toString("hex"), questions: decoded.questions,
    answers: records(decoded.answers), authorities: records(decoded.authorities), additionals: records(decoded.additionals),
  });
}

const names = [
  "web.service.consul", "WEB.Service.CONSUL", "v1.web.service.consul", "_web._tcp.service.consul", "web.service.dc1.consul",
  "six.service.consul", "many.service.consul", "web-1.node.consul", "nope.service.consul", "consul",
];
const types = ["A", "AAAA", "SRV", "ANY", "TXT"] as dnsPacket.RecordType[];
const opt = (fields: Record<string, unknown>): Partial<dnsPacket.Packet> => ({ additionals: [{ type: "OPT", name: ".", ...fields }] as unknown as dnsPacket.Answer[] });
const ednsShapes: Array<Partial<dnsPacket.Packet>> = [
  {},
  opt({ udpPayloadSize: 4096 }),
  opt({ udpPayloadSize: 100 }),
  opt({ udpPayloadSize: 1232, flags: dnsPacket.DNSSEC_OK }),
  opt({ udpPayloadSize: 1232, options: [{ code: 10, data: Buffer.from("0123456789abcdef", "hex") }] }),
  opt({ udpPayloadSize: 1232, options: [{ code: "CLIENT_SUBNET", family: 1, sourcePrefixLength: 24, scopePrefixLength: 0, ip: "10.0.0.0" }] }),
  opt({ udpPayloadSize: 1232, ednsVersion: 1 }),
];

function queries(): Buffer[] {
  const out: Buffer[] = [];
  let id = 1;
  for (const name of names) {
    for (const type of types) {
      for (const shape of ednsShapes) {
        out.push(dnsPacket.encode({ id: id++, type: "query", flags: dnsPacket.RECURSION_DESIRED, questions: [{ name, type, class: "IN" }], ...shape }));
      }
    }
  }
  return out;
}

/** Healthy instances per service name asked: an answer with fewer was cut by udp_answer_limit. */
const instances: Readonly<Record<string, number>> = {
  "web.service.consul": 3, "v1.web.service.consul": 3, "_web._tcp.service.consul": 3, "web.service.dc1.consul": 3, "many.service.consul": 6,
};

/** A cut answer's records are a random pick: compared by size, header and record types, not content. */
function cutByLimit(packet: Buffer): boolean {
  const decoded = dnsPacket.decode(packet);
  const answers = decoded.answers?.length ?? 0;
  return answers > 0 && answers < (instances[decoded.questions?.[0]?.name.toLowerCase() ?? ""] ?? 0);
}

function recordTypes(packet: Buffer): string {
  const decoded = dnsPacket.decode(packet);
  return JSON.stringify([decoded.answers, decoded.additionals].map((list) => (list ?? []).map((record) => record.type).sort()));
}

/** The answers each path gives to `packet` the third time it is asked (templates are in place by then). */
async function both(servers: Pair, packet: Buffer): Promise<[Buffer | null, Buffer | null]> {
  let answers: [Buffer | null, Buffer | null] = [null, null];
  for (let round = 0; round < 3; round++) {
    answers = [await udpExchange(servers.native.udpPort, packet, 1500), await udpExchange(servers.js.udpPort, packet, 1500)];
  }
  // One side silent and the other not: ask the silent one again, patiently (a loaded machine, not a dropped query).
  if (answers[0] === null && answers[1] !== null) answers[0] = await udpExchange(servers.native.udpPort, packet, 5000);
  if (answers[1] === null && answers[0] !== null) answers[1] = await udpExchange(servers.js.udpPort, packet, 5000);
  return answers;
}

const differential = test.macro(async (t, config: Partial<DnsConfig>, mutations: number, seed: number) => {
  const servers = await pair(world(), config);
  try {
    const plain = queries();
    const random = seeded(seed);
    const mutated: Buffer[] = [];
    for (let i = 0; i < mutations; i++) {
      const packet = Buffer.from(plain[Math.floor(random() * plain.length)]!);
      const at = 2 + Math.floor(random() * (packet.length - 2));
      switch (i % 4) {
        case 0: packet[at] = Math.floor(random() * 256); break;
        case 1: mutated.push(packet.subarray(0, Math.max(12, at))); continue;
        case 2: mutated.push(Buffer.concat([packet, Buffer.from([Math.floor(random() * 256)])])); continue;
        default: packet[at] = packet[at]! ^ 0x20; // a letter's case, or anything else with bit 5 flipped
      }
      mutated.push(packet);
    }
    let compared = 0;
    let cut = 0;
    for (const packet of [...plain, ...mutated]) {
      const [native, js] = await both(servers, packet);
      if (native !== null && js !== null && cutByLimit(js)) {
        cut++;
        t.is(native.length, js.length, `cut answer sizes for ${packet.toString("hex")}`);
        t.is(native.subarray(2, 12).toString("hex"), js.subarray(2, 12).toString("hex"), `cut answer header for ${packet.toString("hex")}`);
        t.is(recordTypes(native), recordTypes(js), `cut answer records for ${packet.toString("hex")}`);
        continue;
      }
      t.is(canonical(native), canonical(js), `query ${packet.toString("hex")}`);
      compared++;
    }
    const stats = servers.native.nativeStats()!;
    t.log(`${compared} answers compared whole, ${cut} cut by the answer limit; native thread: ${JSON.stringify(stats)}`);
    t.true(cut > 0, "the answer limit cut some answers");
    // Most plain queries are cached service questions: the C thread must have answered them itself.
    t.true(stats.answered > 250, `native answers: ${stats.answered}`);
    t.true(stats.handedToJs > 100, `handed to JavaScript: ${stats.handedToJs}`);
  } finally {
    await servers.close();
  }
});

test("every query, plain or mutated, gets the same answer from the native path as from JavaScript (modulo the shuffle)", differential, {}, 300, 13);
test("the same with service TTLs, a node TTL, an answer limit of 2, TC on trimmed answers and a recursor", differential, {
  serviceTtlMs: { "*": 5_000, web: 30_000 }, nodeTtlMs: 10_000, udpAnswerLimit: 2, enableTruncate: true, recursors: ["127.0.0.1:9"], recursorTimeoutMs: 50,
}, 100, 29);

test("a cut answer from the native path holds udp_answer_limit distinct instances with their glue, picked afresh per query", async (t) => {
  const servers = await pair(world(), { enableTruncate: true });
  try {
    const packet = dnsPacket.encode({ id: 7, type: "query", questions: [{ name: "many.service.consul", type: "SRV" }] });
    const picks = new Set<string>();
    const before = servers.native.nativeStats()!.answered;
    for (let i = 0; i < 40; i++) {
      const answer = dnsPacket.decode((await udpExchange(servers.native.udpPort, packet))!);
      const targets = (answer.answers ?? []).map((record) => (record as dnsPacket.SrvAnswer).data.target);
      t.is(targets.length, 3);
      t.is(new Set(targets).size, 3, "no instance twice");
      t.true((answer.flags! & dnsPacket.TRUNCATED_RESPONSE) !== 0, "TC set (enable_truncate)");
      for (const target of targets) t.regex(target, /^many-[1-6]\.node\.dc1\.consul$/);
      const glue = (answer.additionals ?? []).filter((record) => record.type === "A").map((record) => record.name);
      t.deepEqual(glue.sort(), [...targets].sort(), "an A record of glue for each target");
      picks.add(targets.join(","));
    }
    const stats = servers.native.nativeStats()!;
    t.true(stats.answered - before >= 39, "answered in C");
    t.true(stats.truncated >= 39, "counted as truncated");
    t.true(picks.size > 5, `${picks.size} different picks in 40 queries`);
  } finally {
    await servers.close();
  }
});

test("the native path's copies go the moment the catalog moves: a critical instance leaves its answers", async (t) => {
  const backend = world();
  const servers = await pair(backend);
  try {
    const packet = dnsPacket.encode({ id: 9, type: "query", questions: [{ name: "web.service.consul", type: "A" }] });
    const addresses = async (): Promise<string[]> => (dnsPacket.decode((await udpExchange(servers.native.udpPort, packet))!).answers ?? []).map((record) => String((record as dnsPacket.StringAnswer).data)).sort();
    for (let i = 0; i < 5; i++) t.deepEqual(await addresses(), ["10.0.1.1", "10.0.1.2", "10.0.1.3"]);
    const before = servers.native.nativeStats()!.answered;
    t.true(before >= 3, "the native thread was answering");
    backend.check("web-2", { CheckID: "web-alive", Name: "web alive", Status: "critical", ServiceID: "web" });
    // The blocking read wakes on the next turn of the event loop: no answer after that may be stale.
    await new Promise((resolve) => setTimeout(resolve, 50));
    for (let i = 0; i < 20; i++) t.deepEqual(await addresses(), ["10.0.1.1", "10.0.1.3"], `answer ${i} after the change`);
    t.true(servers.native.nativeStats()!.answered - before >= 15, "the fresh answers came from C again");
  } finally {
    await servers.close();
  }
});

test("without the addon the server answers UDP in JavaScript and says so in one log line", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "praetor-native-"));
  try {
    const broken = join(dir, "dns_fast.node");
    writeFileSync(broken, "not a shared object");
    const script = `
      import { createDnsHandler } from "./src/dns/handler.ts";
      import { defaultDnsConfig } from "./src/dns/config.ts";
      import { startDnsServer } from "./src/dns/server.ts";
      import { CatalogBackend, udpExchange, queryPacket } from "./test/dns/harness.ts";
      const backend = new CatalogBackend("dc1", "n1");
      backend.node("n1", "10.9.9.9");
      backend.service("n1", { ID: "web", Service: "web", Port: 80 });
      const handler = createDnsHandler(backend.asBackend(), defaultDnsConfig(), { readsAreLocal: true });
      const lines = [];
      const logger = { info: (m) => lines.push(m), warn: (m) => lines.push("WARN " + m) };
      const servers = [await startDnsServer({ host: "127.0.0.1", port: 0, handler, logger }), await startDnsServer({ host: "127.0.0.1", port: 0, handler, logger })];
      const answers = [];
      for (let i = 0; i < 3; i++) answers.push((await udpExchange(servers[0].udpPort, queryPacket("web.service.consul", "A")))?.length ?? 0);
      console.log(JSON.stringify({ paths: servers.map((s) => s.udpPath), lines: lines.filter((l) => l.includes("native")), answered: answers.every((n) => n > 0) }));
      for (const s of servers) await s.close();
      handler.close();
    `;
    const run = (env: Record<string, string>) => {
      const child = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { env: { ...process.env, ...env }, encoding: "utf8", timeout: 60_000 });
      t.is(child.status, 0, child.stderr);
      return JSON.parse(child.stdout.trim().split("\n").at(-1)!) as { paths: string[]; lines: string[]; answered: boolean };
    };
    const off = run({ PRAETOR_DNS_NATIVE: "0" });
    t.deepEqual(off.paths, ["js", "js"]);
    t.true(off.answered);
    t.is(off.lines.length, 1, off.lines.join("\n"));
    t.regex(off.lines[0]!, /native UDP fast path turned off by PRAETOR_DNS_NATIVE=0; answering UDP in JavaScript/);
    const unloadable = run({ PRAETOR_DNS_NATIVE_ADDON: broken });
    t.deepEqual(unloadable.paths, ["js", "js"]);
    t.true(unloadable.answered);
    t.is(unloadable.lines.length, 1, unloadable.lines.join("\n"));
    t.regex(unloadable.lines[0]!, /native UDP fast path failed to load .*dns_fast\.node.*; answering UDP in JavaScript/);
    const built = run({});
    t.deepEqual(built.paths, ["native", "native"]);
    t.true(built.answered);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a native copy lapses with its source's max_stale: the first question after it goes to JavaScript, which re-reads and hands C a fresh copy", async (t) => {
  const servers = await pair(world(), { maxStaleMs: 1_500 });
  try {
    const packet = dnsPacket.encode({ id: 11, type: "query", questions: [{ name: "web.service.consul", type: "A" }] });
    for (let i = 0; i < 3; i++) t.truthy(await udpExchange(servers.native.udpPort, packet));
    const primed = servers.native.nativeStats()!;
    t.true(primed.answered >= 2, "answered in C while fresh");
    await new Promise((resolve) => setTimeout(resolve, 1_700));
    t.truthy(await udpExchange(servers.native.udpPort, packet));
    const lapsed = servers.native.nativeStats()!;
    t.is(lapsed.handedToJs, primed.handedToJs + 1, "past max_stale the copy no longer answers");
    t.is(lapsed.answered, primed.answered);
    for (let i = 0; i < 3; i++) t.truthy(await udpExchange(servers.native.udpPort, packet));
    t.is(servers.native.nativeStats()!.answered, lapsed.answered + 3, "the fresh copy answers in C again");
  } finally {
    await servers.close();
  }
});

test("the addon refuses a template whose parts do not add up, and keeps answering from the ones it holds", (t) => {
  const binding = loadNativeDns();
  if (typeof binding === "string") throw new Error(`the native DNS fast path is ${binding}`);
  const { handle } = binding.open("127.0.0.1", 0, 0);
  try {
    const rr = (last: number): Buffer => Buffer.from([0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4, 10, 0, 0, last]);
    const blob = (boundAll: number, items: Buffer[] = [rr(1), rr(2)]): Buffer => {
      const head = Buffer.alloc(20);
      head.writeUInt32LE(items.length, 0);
      head.writeUInt32LE(0, 4);
      head.writeUInt32LE(items.length, 8);
      head.writeUInt32LE(boundAll, 12);
      head.writeUInt32LE(Math.min(boundAll, 16), 16);
      const parts: Buffer[] = [head];
      items.forEach((record, i) => {
        const fields = Buffer.alloc(12);
        fields.writeInt32LE(i, 0);
        fields.writeInt32LE(-1, 4);
        fields.writeUInt32LE(record.length, 8);
        parts.push(fields, record);
      });
      return Buffer.concat(parts);
    };
    const name = Buffer.from("\u0003web\u0007service\u0006consul\u0000", "latin1");
    binding.setTemplate(handle, 1, name, 1, -1, blob(32));
    t.is(binding.stats(handle).templates, 1);
    t.throws(() => binding.setTemplate(handle, 1, name, 1, -1, blob(31)), { message: /bounds below its records/ });
    t.throws(() => binding.setTemplate(handle, 1, name, 1, -1, blob(32).subarray(0, 40)), { message: /cut short/ });
    t.throws(() => binding.setTemplate(handle, 1, name, 1, -1, Buffer.concat([blob(32), Buffer.from([0])])), { message: /trailing bytes/ });
    const srvTyped = blob(32);
    srvTyped.writeUInt16BE(33, 20 + 12 + 2); // the first record's type: SRV, whose target spells the zone
    t.throws(() => binding.setTemplate(handle, 1, name, 1, -1, srvTyped), { message: /non-SRV question/ });
    t.is(binding.stats(handle).templates, 1, "the good template stays");
    binding.dropSource(handle, 2);
    t.is(binding.stats(handle).templates, 1, "another source's drop leaves it");
    binding.dropSource(handle, 1);
    t.is(binding.stats(handle).templates, 0);
  } finally {
    binding.close(handle);
  }
});

test("DNS 0x20: A questions in any case are answered in C from one template, SRV ones per spelling; each as JavaScript answers it", async (t) => {
  const servers = await pair(world());
  try {
    const random = seeded(20);
    const spell = (name: string): string => [...name].map((c) => (random() < 0.5 ? c.toUpperCase() : c)).join("");
    const ask = (name: string, type: dnsPacket.RecordType): Buffer => dnsPacket.encode({ id: 20, type: "query", questions: [{ name, type }] });
    await both(servers, ask("web.service.consul", "A"));
    const primed = servers.native.nativeStats()!;
    for (let i = 0; i < 20; i++) {
      const packet = ask(spell("web.service.consul"), "A");
      const native = await udpExchange(servers.native.udpPort, packet);
      t.is(canonical(native), canonical(await udpExchange(servers.js.udpPort, packet)));
      t.is(dnsPacket.decode(native!).questions![0]!.name, dnsPacket.decode(packet).questions![0]!.name, "the question as spelled");
    }
    const after = servers.native.nativeStats()!;
    t.is(after.answered - primed.answered, 20, "every respelled A question answered in C");
    t.is(after.handedToJs, primed.handedToJs);
    // SRV targets carry the zone as the question spelled it: a respelled zone must not reuse the lower-case template.
    await both(servers, ask("web.service.consul", "SRV"));
    const [native, js] = await both(servers, ask("wEb.SERVICE.CoNsUl", "SRV"));
    t.is(canonical(native), canonical(js));
    t.regex(JSON.stringify(dnsPacket.decode(native!).answers), /web-1\.node\.dc1\.CoNsUl/);
  } finally {
    await servers.close();
  }
});
