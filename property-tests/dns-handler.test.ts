/**
 * Fuzzing the DNS handler: random bytes, and well-formed queries (names from the catalog's
 * vocabulary and random labels, every record type, EDNS0 or not) that are then mutated (bytes
 * flipped, cut short, garbage appended, counts rewritten). Whatever comes in, the handler never
 * throws, answers null only for messages without a header or that are responses themselves, and
 * otherwise answers a response that dns-packet decodes, under the query's ID, echoing the
 * question, and within the client's UDP size. And the cached fast path answers byte for byte what
 * the full handler answers for the same random draws.
 */
import test from "ava";
import fc from "fast-check";
import dnsPacket from "dns-packet";
import { ApiError } from "../src/agent/api.ts";
import { defaultDnsConfig, type DnsConfig } from "../src/dns/config.ts";
import { createDnsHandler } from "../src/dns/handler.ts";
import { parseQuery, udpLimitBytes } from "../src/dns/wire.ts";
import { CatalogBackend, seeded } from "../test/dns/harness.ts";

const backend = new CatalogBackend("dc1", "server-1");
backend.node("server-1", "10.0.0.1", { "consul-network-segment": "", "k=`x": " v ", "rfc1035-raw": "x".repeat(300) });
backend.service("server-1", { ID: "consul", Service: "consul", Port: 8300 });
for (let i = 0; i < 12; i++) {
  const node = i % 3 === 0 ? `node-${i}-${"long".repeat(10)}` : `node-${i}`;
  backend.node(node, i % 4 === 0 ? `fd00::${i + 1}` : `10.0.0.${i + 2}`, { zone: `z${i % 2}` }, i % 5 === 0 ? { lan_ipv4: `10.5.0.${i}` } : {});
  backend.service(node, { ID: "web", Service: "web", Tags: ["v1", `t${i % 3}`], Port: 8000 + i, ...(i % 6 === 1 ? { Address: `192.168.0.${i}` } : {}) },
    i % 7 === 3 ? [{ CheckID: "c", Name: "c", Status: "critical", ServiceID: "web" }] : []);
  backend.service(node, { ID: "db", Service: "db", Port: 5432, ...(i % 5 === 2 ? { Address: "db.external.example" } : {}) });
}
backend.node("host-node", "storage.example.com", {});
backend.service("host-node", { ID: "ext", Service: "ext", Port: 1 });

const flaky = new CatalogBackend("dc1", "server-1");
flaky.failWith = new ApiError(500, "rpc error: No cluster leader");

const handlers = [
  createDnsHandler(backend.asBackend(), defaultDnsConfig(), { random: seeded(1) }),
  createDnsHandler(backend.asBackend(), { ...defaultDnsConfig(), enableTruncate: true, onlyPassing: true, udpAnswerLimit: 1, altDomain: "alt.test." }, { random: seeded(2) }),
  createDnsHandler(flaky.asBackend(), defaultDnsConfig(), { random: seeded(3) }),
  // As on a server: answers cached, so mutated repeats of a question reach the hand parser.
  createDnsHandler(backend.asBackend(), { ...defaultDnsConfig(), udpAnswerLimit: 2 }, { random: seeded(4), readsAreLocal: true }),
];

test.after.always(() => {
  for (const handler of handlers) handler.close();
});

const labelArb = fc.oneof(
  fc.constantFrom("web", "db", "ext", "consul", "v1", "t0", "t1", "_web", "_tcp", "_v1", "service", "node", "addr", "query",
    "dc1", "dc2", "dc", "consul", "alt", "test", "server-1", "node-1", "NODE-2", "host-node", "0a000002", "fd000000000000000000000000000001",
    "in-addr", "arpa", "ip6", "1", "0", "10", "WEB", "Service", "CONSUL"),
  fc.stringMatching(/^[a-z0-9_-]{1,20}$/),
  fc.string({ minLength: 1, maxLength: 63, unit: "binary-ascii" }).filter((s) => !s.includes(".")),
);
const zoneArb = fc.constantFrom("consul", "CONSUL", "alt.test", "dc1.consul", "dc2.consul", "dc1.dc.consul");
/** Names from the grammar the handler serves, so fuzzing reaches real (and large) answers. */
const grammarArb = fc.oneof(
  fc.tuple(fc.constantFrom("", "v1.", "t0.", "T1.", "nope."), fc.constantFrom("web", "db", "ext", "consul", "nope"), zoneArb).map(([tag, svc, zone]) => `${tag}${svc}.service.${zone}`),
  fc.tuple(fc.constantFrom("_web", "_db", "_ext"), fc.constantFrom("_tcp", "_v1", "_t2", "_udp"), fc.constantFrom(".service", ""), zoneArb).map(([a, b, c, zone]) => `${a}.${b}${c}.${zone}`),
  fc.tuple(fc.constantFrom("server-1", "node-1", "NODE-2", "host-node", "node-0-longlonglonglonglonglonglonglonglonglong", "nope"), zoneArb).map(([node, zone]) => `${node}.node.${zone}`),
  fc.tuple(fc.constantFrom("0a000002", "c0a80001", "fd000000000000000000000000000001", "zz"), zoneArb).map(([hex, zone]) => `${hex}.addr.${zone}`),
  fc.constantFrom("2.0.0.10.in-addr.arpa", "1.0.0.10.in-addr.arpa", "7.0.168.192.in-addr.arpa", "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa", "consul", "alt.test", "example.com", "."),
);
const nameArb = fc.oneof(
  { weight: 1, arbitrary: fc.array(labelArb, { minLength: 0, maxLength: 8 }).map((labels) => labels.join(".")) },
  { weight: 3, arbitrary: grammarArb },
);
// dns-packet encodes ANY and AXFR by name; its typings leave them out.
const typeArb = fc.constantFrom(...(["A", "AAAA", "SRV", "TXT", "PTR", "NS", "SOA", "ANY", "MX", "CNAME", "AXFR", "CAA"] as unknown as dnsPacket.RecordType[]));
const ednsArb = fc.option(fc.record({
  udpPayloadSize: fc.oneof(fc.constantFrom(0, 512, 1232, 4096, 65535), fc.nat(65535)),
  ednsVersion: fc.constantFrom(0, 0, 0, 1),
  flags: fc.constantFrom(0, dnsPacket.DNSSEC_OK),
}), { nil: undefined });

const queryArb = fc.record({ id: fc.nat(0xffff), name: nameArb, type: typeArb, edns: ednsArb, rd: fc.boolean() }).map(({ id, name, type, edns, rd }) => {
  try {
    return dnsPacket.encode({
      id, type: "query", flags: rd ? dnsPacket.RECURSION_DESIRED : 0, questions: [{ name, type, class: "IN" }],
      additionals: edns === undefined ? [] : [{ type: "OPT", name: ".", ...edns } as unknown as dnsPacket.Answer],
    });
  } catch {
    return Buffer.from([id >> 8, id & 0xff, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1]); // a root question
  }
});

type Mutation = { kind: "flip"; at: number; value: number } | { kind: "cut"; at: number } | { kind: "append"; bytes: Uint8Array } | { kind: "count"; which: number; value: number };
const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant("flip" as const), at: fc.nat(), value: fc.nat(255) }),
  fc.record({ kind: fc.constant("cut" as const), at: fc.nat() }),
  fc.record({ kind: fc.constant("append" as const), bytes: fc.uint8Array({ maxLength: 64 }) }),
  fc.record({ kind: fc.constant("count" as const), which: fc.nat(3), value: fc.nat(0xffff) }),
);

function mutate(packet: Buffer, mutations: readonly Mutation[]): Buffer {
  let out = Buffer.from(packet);
  for (const m of mutations) {
    if (m.kind === "flip" && out.length > 0) out[m.at % out.length] = m.value;
    if (m.kind === "cut") out = out.subarray(0, m.at % (out.length + 1));
    if (m.kind === "append") out = Buffer.concat([out, m.bytes]);
    if (m.kind === "count" && out.length >= 12) out.writeUInt16BE(m.value, 4 + 2 * m.which);
  }
  return out;
}

const inputArb = fc.oneof(
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 600 }).map((bytes) => Buffer.from(bytes)) },
  { weight: 3, arbitrary: queryArb },
  { weight: 3, arbitrary: fc.tuple(queryArb, fc.array(mutationArb, { minLength: 1, maxLength: 4 })).map(([q, ms]) => mutate(q, ms)) },
);

async function checkAnswer(input: Buffer, handlerIndex: number, transport: "udp" | "tcp"): Promise<void> {
  const answer = await handlers[handlerIndex]!(input, transport);
  const dropWanted = input.length < 12 || (input[2]! & 0x80) !== 0;
  if (answer === null) {
    if (!dropWanted) throw new Error(`dropped a ${input.length}-byte query with a header: ${input.toString("hex")}`);
    return;
  }
  if (dropWanted) throw new Error(`answered what should be dropped: ${input.toString("hex")}`);
  const decoded = dnsPacket.decode(answer); // throws if the answer is not valid DNS
  if (decoded.id !== input.readUInt16BE(0)) throw new Error(`answer ID ${decoded.id} for query ID ${input.readUInt16BE(0)}`);
  if (!decoded.flag_qr) throw new Error("answer is not a response");
  const parsed = parseQuery(input);
  if (parsed.kind === "query") {
    const question = parsed.query.questionBytes;
    if (!answer.subarray(12, 12 + question.length).equals(question)) throw new Error(`question not echoed for ${input.toString("hex")}`);
    const limit = transport === "udp" ? udpLimitBytes(parsed.query) : 65535;
    if (answer.length > limit) throw new Error(`${answer.length}-byte ${transport} answer exceeds ${limit}`);
  } else if (answer.length !== 12) {
    throw new Error(`a rejected query got ${answer.length} bytes, not a bare header`);
  }
}

test("the handler never throws and always answers a valid response, or null for what is not a query", async (t) => {
  await fc.assert(
    fc.asyncProperty(inputArb, fc.nat(handlers.length - 1), fc.constantFrom<"udp" | "tcp">("udp", "tcp"), checkAnswer),
    { numRuns: 3000, seed: 4242 },
  );
  t.pass();
});

test("fuzzing reached answers, NXDOMAIN, FORMERR, drops and truncation (coverage marks)", async (t) => {
  const rcodes = new Map<string, number>();
  let dropped = 0;
  let truncated = 0;
  for (const input of fc.sample(inputArb, { numRuns: 3000, seed: 4242 })) {
    for (const transport of ["udp", "tcp"] as const) {
      const answer = await handlers[1]!(input, transport);
      if (answer === null) {
        dropped++;
        continue;
      }
      const decoded = dnsPacket.decode(answer) as dnsPacket.DecodedPacket & { rcode: string };
      rcodes.set(decoded.rcode, (rcodes.get(decoded.rcode) ?? 0) + 1);
      if (decoded.flag_tc) truncated++;
    }
  }
  for (const rcode of ["NOERROR", "NXDOMAIN", "FORMERR", "REFUSED", "NOTIMP"]) t.true((rcodes.get(rcode) ?? 0) > 0, `${rcode} never reached: ${JSON.stringify([...rcodes])}`);
  t.true(dropped > 0, "no input was dropped");
  t.true(truncated > 0, "no answer was truncated");
});

/** A handler with cached answers and one without, drawing from the same seed. */
function twins(config: Partial<DnsConfig>, seed: number) {
  const full = { ...defaultDnsConfig(), ...config };
  return {
    // One clock for both: negative answers carry it as the SOA serial.
    cached: createDnsHandler(backend.asBackend(), full, { random: seeded(seed), nowMs: () => 1_700_000_000_000, readsAreLocal: true }),
    plain: createDnsHandler(backend.asBackend(), full, { random: seeded(seed), nowMs: () => 1_700_000_000_000 }),
  };
}

const cookieArb = fc.option(fc.uint8Array({ minLength: 8, maxLength: 8 }).map((bytes) => Buffer.from(bytes)), { nil: undefined });
/** Mostly service names (what the fast path serves), in the zone's spellings. */
const serviceNameArb = fc.tuple(fc.constantFrom("", "v1.", "t0.", "T1.", "_web._tcp.", "_db._v1."), fc.constantFrom("web", "db", "consul", "ext"), zoneArb)
  .map(([tag, service, zone]) => (tag.startsWith("_") ? `${tag}service.${zone}` : `${tag}${service}.service.${zone}`));
const wellFormedArb = fc.record({
  id: fc.nat(0xffff), name: fc.oneof({ weight: 3, arbitrary: serviceNameArb }, { weight: 1, arbitrary: grammarArb }),
  type: fc.constantFrom<dnsPacket.RecordType>("A", "AAAA", "SRV", "ANY" as dnsPacket.RecordType, "TXT"),
  edns: fc.option(ednsArb.filter((edns) => edns !== undefined), { freq: 1, nil: undefined }), cookie: cookieArb, rd: fc.boolean(),
}).map(({ id, name, type, edns, cookie, rd }) => dnsPacket.encode({
  id, type: "query", flags: rd ? dnsPacket.RECURSION_DESIRED : 0, questions: [{ name, type, class: "IN" }],
  additionals: edns === undefined ? [] : [{ type: "OPT", name: ".", ...edns, ...(cookie === undefined ? {} : { options: [{ code: 10, data: cookie }] }) } as unknown as dnsPacket.Answer],
}));

test("the cached fast path answers exactly what the full handler answers for the same draws", async (t) => {
  const pairs = [twins({}, 11), twins({ udpAnswerLimit: 1, enableTruncate: true, onlyPassing: true }, 12), twins({ nodeMetaTxt: false, serviceTtlMs: { "*": 30_000 } }, 13)];
  let fast = 0;
  let fastTruncated = 0;
  try {
    await fc.assert(
      fc.asyncProperty(wellFormedArb, fc.nat(pairs.length - 1), fc.constantFrom<"udp" | "tcp">("udp", "tcp"), async (query, which, transport) => {
        const { cached, plain } = pairs[which]!;
        // The first ask fills the cache; the repeats may take the fast path.
        for (let round = 0; round < 3; round++) {
          const before = cached.stats.queries;
          const now = cached.answerNow!(query, transport);
          if (now !== null) fast++;
          if (now !== null && (now[2]! & 0x02) !== 0) fastTruncated++;
          const got = now ?? await cached(query, transport);
          const want = await plain(query, transport);
          if (cached.stats.queries !== before + 1) throw new Error("a question was not counted once");
          if (got === null || want === null ? got !== want : !got.equals(want)) {
            throw new Error(`round ${round}: cached ${got?.toString("hex")} != full ${want?.toString("hex")} for ${query.toString("hex")}`);
          }
        }
      }),
      { numRuns: 1500, seed: 77 },
    );
  } finally {
    for (const pair of pairs) pair.cached.close();
  }
  t.true(fast > 400, `the fast path answered only ${fast} questions`);
  t.true(fastTruncated > 0, "the fast path never truncated");
});
