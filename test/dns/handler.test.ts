/**
 * The handler without sockets: what it does with bytes that are not a good query, how it reads
 * the catalog (stale, per datacenter), how failures behind it surface, and the trimming rules at
 * their edges.
 */
import test from "ava";
import dnsPacket from "dns-packet";
import { ApiError } from "../../src/agent/api.ts";
import { defaultDnsConfig, DnsConfigError, parseRecursor, resolveDnsConfig } from "../../src/dns/config.ts";
import { createDnsHandler } from "../../src/dns/handler.ts";
import { ipFromReverse, ipToBytes, nodeMetaTxt, parseLookup, matchZone } from "../../src/dns/names.ts";
import { CatalogBackend, queryPacket, seeded, seedsBackend } from "./harness.ts";

function handlerFor(backend = seedsBackend(), config = {}, random = seeded(1)) {
  return createDnsHandler(backend.asBackend(), { ...defaultDnsConfig(), ...config }, { random, nowMs: () => 1_608_259_702_000 });
}

/** dns-packet decodes the rcode too; its typings leave it out. */
type Decoded = dnsPacket.DecodedPacket & { rcode: string };

function decode(answer: Buffer | null): Decoded {
  if (answer === null) throw new Error("no answer");
  return dnsPacket.decode(answer) as Decoded;
}

test("the seeds' SRV answer, decoded: priority 1, weight 1, node target, A and TXT glue, SOA serial from the clock", async (t) => {
  const handle = handlerFor();
  const srv = decode(await handle(queryPacket("web.service.consul", "SRV"), "udp"));
  t.is(srv.rcode, "NOERROR");
  t.true(srv.flag_aa);
  t.deepEqual(srv.answers, [{ name: "web.service.consul", type: "SRV", ttl: 0, class: "IN", flush: false, data: { priority: 1, weight: 1, port: 8080, target: "VM-0-17-centos.node.dc1.consul" } }]);
  t.deepEqual(srv.additionals!.map((record) => [record.name, record.type]), [["VM-0-17-centos.node.dc1.consul", "A"], ["VM-0-17-centos.node.dc1.consul", "TXT"]]);
  const missing = decode(await handle(queryPacket("redis.service.consul", "SRV"), "udp"));
  t.is(missing.rcode, "NXDOMAIN");
  t.deepEqual((missing.authorities![0] as dnsPacket.SoaAnswer).data, {
    mname: "ns.consul", rname: "hostmaster.consul", serial: 1_608_259_702, refresh: 3600, retry: 600, expire: 86400, minimum: 0,
  });
});

test("reads are stale by default, with max_stale; allow_stale=false reads with default consistency", async (t) => {
  const backend = seedsBackend();
  await handlerFor(backend)(queryPacket("web.service.consul", "A"), "udp");
  t.deepEqual(backend.log[0], {
    query: { kind: "healthService", name: "web" },
    options: { consistency: "stale", maxStaleMs: defaultDnsConfig().maxStaleMs },
  });
  backend.log.length = 0;
  await handlerFor(backend, { allowStale: false })(queryPacket("java.web.service.dc1.consul", "A"), "udp");
  t.deepEqual(backend.log[0], { query: { kind: "healthService", name: "web", filter: { tags: ["java"] } }, options: { consistency: "default" } });
  backend.log.length = 0;
  await handlerFor(backend)(queryPacket("web.service.dc2.consul", "A"), "udp");
  t.is(backend.log[0]!.options.dc, "dc2");
});

test("an unknown datacenter is NXDOMAIN; any other backend failure SERVFAIL, never a throw", async (t) => {
  const backend = seedsBackend();
  const handle = handlerFor(backend);
  t.is(decode(await handle(queryPacket("web.service.dc2.consul", "A"), "udp")).rcode, "NXDOMAIN");
  backend.failWith = new ApiError(500, "rpc error: No cluster leader");
  const failed = decode(await handle(queryPacket("web.service.consul", "A"), "udp"));
  t.is(failed.rcode, "SERVFAIL");
  t.is(failed.answers!.length, 0);
  backend.failWith = new TypeError("boom");
  t.is(decode(await handle(queryPacket("x.node.consul", "A"), "tcp")).rcode, "SERVFAIL");
  t.is(handle.stats.serverFailures, 2);
});

test("bytes that are not a query: dropped without a header, FORMERR with one, NOTIMP for other opcodes", async (t) => {
  const handle = handlerFor();
  t.is(await handle(Buffer.alloc(0), "udp"), null);
  t.is(await handle(Buffer.from([1, 2, 3]), "udp"), null);
  // A response sent to us is dropped (answering could loop between two servers).
  const response = dnsPacket.encode({ id: 7, type: "response", questions: [{ name: "web.service.consul", type: "A" }] });
  t.is(await handle(response, "udp"), null);

  const truncated = queryPacket("web.service.consul", "A").subarray(0, 20);
  const formerr = decode(await handle(truncated, "udp"));
  t.is(formerr.id, 4242);
  t.is(formerr.rcode, "FORMERR");
  t.is(formerr.type, "response");
  const twoQuestions = dnsPacket.encode({ id: 9, type: "query", questions: [{ name: "a.consul", type: "A" }, { name: "b.consul", type: "A" }] });
  t.is(decode(await handle(twoQuestions, "udp")).rcode, "FORMERR");
  const noQuestion = dnsPacket.encode({ id: 9, type: "query", questions: [] });
  t.is(decode(await handle(noQuestion, "udp")).rcode, "FORMERR");
  const twoOpts = queryPacket("web.service.consul", "A", {
    additionals: [{ type: "OPT", name: ".", udpPayloadSize: 1232 }, { type: "OPT", name: ".", udpPayloadSize: 4096 }] as dnsPacket.Answer[],
  });
  t.is(decode(await handle(twoOpts, "udp")).rcode, "FORMERR");
  const notify = Buffer.from(queryPacket("web.service.consul", "A"));
  notify.writeUInt16BE((4 << 11) | 0x100, 2);
  t.is(decode(await handle(notify, "udp")).rcode, "NOTIMP");
  t.is(decode(await handle(Buffer.alloc(5000), "tcp")).rcode, "FORMERR");
  t.is(handle.stats.dropped, 3);
});

test("the question is echoed byte for byte, odd bytes and case included", async (t) => {
  const handle = handlerFor();
  const query = queryPacket("WeB.SeRvIcE.CoNsUl", "A");
  const answer = await handle(query, "udp");
  const qlen = query.length - 12;
  t.deepEqual(answer!.subarray(12, 12 + qlen), query.subarray(12));
  t.is(decode(answer).answers![0]!.name, "WeB.SeRvIcE.CoNsUl");
  // A label with a dot and a control byte inside: NXDOMAIN, and the question comes back unchanged.
  const oddQuery = Buffer.concat([
    Buffer.from([0x10, 0x42, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]),
    Buffer.from([5, 0x77, 0x2e, 0x62, 0x01, 0x63]), Buffer.from("\x07service\x06consul\x00", "latin1"), Buffer.from([0, 1, 0, 1]),
  ]);
  const oddAnswer = await handle(oddQuery, "udp");
  t.is(decode(oddAnswer).rcode, "NXDOMAIN");
  t.deepEqual(oddAnswer!.subarray(12, oddQuery.length), oddQuery.subarray(12));
});

test("EDNS0: OPT echoed with the client's size and DO bit; client subnet echoed with scope 0; version 1 is BADVERS", async (t) => {
  const handle = handlerFor();
  const subnet = { code: "CLIENT_SUBNET", family: 1, sourcePrefixLength: 24, scopePrefixLength: 0, ip: "192.0.2.0" };
  const withOpt = queryPacket("web.service.consul", "A", {
    additionals: [{ type: "OPT", name: ".", udpPayloadSize: 1400, flags: dnsPacket.DNSSEC_OK, options: [subnet] }] as unknown as dnsPacket.Answer[],
  });
  const answer = decode(await handle(withOpt, "udp"));
  const opt = answer.additionals!.find((record) => record.type === "OPT") as dnsPacket.OptAnswer;
  t.is(opt.udpPayloadSize, 1400);
  t.true((opt.flags & dnsPacket.DNSSEC_OK) !== 0);
  t.is(opt.options.length, 1);
  t.is(opt.options[0]!.code, 8);
  const bad = queryPacket("web.service.consul", "A", { additionals: [{ type: "OPT", name: ".", udpPayloadSize: 1232, ednsVersion: 1 }] as dnsPacket.Answer[] });
  const badvers = decode(await handle(bad, "udp"));
  t.is((badvers.additionals![0] as dnsPacket.OptAnswer).extendedRcode, 1, "BADVERS is extended rcode 16 = 1 << 4");
  t.is(decode(await handle(queryPacket("web.service.consul", "A"), "udp")).additionals!.length, 0);
});

test("trimming: 20 SRV answers fit 512 bytes over UDP as at most 3 with their glue; all 20 over TCP", async (t) => {
  const backend = new CatalogBackend();
  for (let i = 1; i <= 20; i++) {
    backend.node(`n${i}`, `10.1.0.${i}`);
    backend.service(`n${i}`, { ID: "s", Service: "s", Port: 100 + i });
  }
  const handle = handlerFor(backend, { enableTruncate: true });
  const udpBytes = await handle(queryPacket("s.service.consul", "SRV"), "udp");
  const udp = decode(udpBytes);
  t.true(udpBytes!.length <= 512, `${udpBytes!.length} bytes`);
  t.true(udp.flag_tc);
  t.true(udp.answers!.length >= 1 && udp.answers!.length <= 3);
  const targets = udp.answers!.map((record) => (record as dnsPacket.SrvAnswer).data.target).sort();
  t.deepEqual(udp.additionals!.filter((record) => record.type === "A").map((record) => record.name).sort(), targets);
  const tcp = decode(await handle(queryPacket("s.service.consul", "SRV"), "tcp"));
  t.is(tcp.answers!.length, 20);
  t.false(tcp.flag_tc);
  t.is(tcp.additionals!.filter((record) => record.type === "A").length, 20);
});

test("answers are shuffled per query from the injected random source", async (t) => {
  const backend = new CatalogBackend();
  for (let i = 1; i <= 5; i++) {
    backend.node(`n${i}`, `10.1.0.${i}`);
    backend.service(`n${i}`, { ID: "s", Service: "s", Port: 80 });
  }
  const order = async (random: () => number): Promise<string> => {
    const answer = decode(await handlerFor(backend, {}, random)(queryPacket("s.service.consul", "A", { additionals: [{ type: "OPT", name: ".", udpPayloadSize: 4096 }] as dnsPacket.Answer[] }), "udp"));
    return answer.answers!.map((record) => String((record as dnsPacket.StringAnswer).data)).join(",");
  };
  t.is(await order(seeded(7)), await order(seeded(7)), "same seed, same order");
  const orders = new Set<string>();
  for (let seed = 0; seed < 10; seed++) orders.add(await order(seeded(seed)));
  t.true(orders.size > 3, `${orders.size} distinct orders of 5 over 10 seeds`);
});

test("SRV weights follow the instance's health and Weights; maintenance and critical instances are dropped", async (t) => {
  const backend = new CatalogBackend();
  backend.node("a", "10.2.0.1");
  backend.service("a", { ID: "s", Service: "s", Port: 1, Weights: { Passing: 10, Warning: 2 } });
  backend.node("b", "10.2.0.2");
  backend.service("b", { ID: "s", Service: "s", Port: 2, Weights: { Passing: 10, Warning: 2 } }, [{ CheckID: "c", Name: "c", Status: "warning", ServiceID: "s" }]);
  backend.node("c", "10.2.0.3");
  backend.service("c", { ID: "s", Service: "s", Port: 3 }, [{ CheckID: "m", Name: "m", Status: "maintenance", ServiceID: "s" }]);
  const answer = decode(await handlerFor(backend)(queryPacket("s.service.consul", "SRV"), "tcp"));
  const weights = answer.answers!.map((record) => (record as dnsPacket.SrvAnswer).data).map((srv) => `${srv.port}:${srv.weight}`).sort();
  t.deepEqual(weights, ["1:10", "2:2"]);
});

test("names: RFC 2782, tags with dots, node names with dots, addr, reverse, the kind label nearest the zone wins", (t) => {
  const config = resolveDnsConfig(defaultDnsConfig());
  const lookup = (name: string, qtype = 1) => parseLookup(matchZone(config, name.split("."))!, qtype);
  t.deepEqual(lookup("_db._master.service.dc2.consul", 33), { kind: "service", service: "db", tag: "master", dc: "dc2" });
  t.deepEqual(lookup("_db._tcp.consul", 33), { kind: "service", service: "db", tag: null, dc: null });
  t.deepEqual(lookup("v1.2.db.service.consul"), { kind: "service", service: "db", tag: "v1.2", dc: null });
  t.deepEqual(lookup("web.service.dc3.dc.consul"), { kind: "service", service: "web", tag: null, dc: "dc3" });
  t.deepEqual(lookup("Host.Example.node.consul"), { kind: "node", node: "Host.Example", dc: null });
  t.deepEqual(lookup("service.node.service.consul"), { kind: "service", service: "node", tag: "service", dc: null });
  t.is(lookup("web.service.a.b.consul").kind, "invalid");
  t.is(lookup("7f00001.addr.dc1.consul").kind, "invalid");
  t.deepEqual(lookup("7f000001.addr.consul"), { kind: "addr", ip: Uint8Array.from([127, 0, 0, 1]) });
  t.is(matchZone(config, ["web", "service", "example"]), null);
  t.deepEqual(ipFromReverse("4.3.2.1.in-addr.arpa".split(".")), Uint8Array.from([1, 2, 3, 4]));
  t.is(ipFromReverse("3.2.1.in-addr.arpa".split(".")), null);
  t.is(ipFromReverse("256.3.2.1.in-addr.arpa".split(".")), null);
  t.deepEqual(ipToBytes("::ffff:10.0.0.1"), Uint8Array.from([10, 0, 0, 1]));
  t.deepEqual(ipToBytes("fd00::5"), Uint8Array.from([0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5]));
  t.is(ipToBytes("example.com"), null);
});

test("node meta as RFC 1464 text, with Consul's escapes", (t) => {
  t.is(nodeMetaTxt("consul-network-segment", ""), "consul-network-segment=");
  t.is(nodeMetaTxt("a=b", "c`d"), "a`=b=c``d");
  t.is(nodeMetaTxt(" k ", "v"), "` k` =v");
  t.is(nodeMetaTxt("rfc1035-raw", "just this"), "just this");
});

test("config: defaults as Consul's, and bad values refused with the field named", (t) => {
  const resolved = resolveDnsConfig(defaultDnsConfig());
  t.is(resolved.domain, "consul.");
  t.is(resolved.udpAnswerLimit, 3);
  t.is(resolveDnsConfig({ ...defaultDnsConfig(), udpAnswerLimit: 50 }).udpAnswerLimit, 8);
  t.deepEqual(parseRecursor("8.8.8.8"), { host: "8.8.8.8", port: 53, text: "8.8.8.8" });
  t.deepEqual(parseRecursor("[::1]:5353"), { host: "::1", port: 5353, text: "[::1]:5353" });
  t.deepEqual(parseRecursor("::1"), { host: "::1", port: 53, text: "::1" });
  t.throws(() => parseRecursor("dns.example.com"), { instanceOf: DnsConfigError, message: /recursor.*not an IP/ });
  t.throws(() => resolveDnsConfig({ ...defaultDnsConfig(), domain: "bad domain." }), { message: /domain "bad domain\." has an invalid label/ });
  t.throws(() => resolveDnsConfig({ ...defaultDnsConfig(), nodeTtlMs: -1 }), { message: /node_ttl must be a duration >= 0 ms, got -1/ });
  t.throws(() => resolveDnsConfig({ ...defaultDnsConfig(), udpAnswerLimit: 0 }), { message: /udp_answer_limit/ });
  t.throws(() => createDnsHandler(seedsBackend().asBackend(), { ...defaultDnsConfig(), recursors: ["nope"] }), { message: /invalid recursor address "nope"/ });
});

test("addresses: a tagged lan_ipv6 answers AAAA, hostnames answer CNAME, an SRV to a hostname has no glue", async (t) => {
  const backend = new CatalogBackend();
  backend.node("dual", "10.3.0.1", {}, { lan_ipv6: "2001:db8::1" });
  backend.service("dual", { ID: "s", Service: "s", Port: 1 });
  backend.node("ext-node", "10.3.0.2", {});
  backend.service("ext-node", { ID: "ext", Service: "ext", Address: "api.example.com", Port: 443 });
  backend.node("named", "storage.example.com", {});
  const handle = handlerFor(backend);
  const answer = async (name: string, type: dnsPacket.RecordType) => decode(await handle(queryPacket(name, type), "tcp"));
  t.deepEqual((await answer("s.service.consul", "AAAA")).answers!.map((r) => [r.type, (r as dnsPacket.StringAnswer).data]), [["AAAA", "2001:db8::1"]]);
  t.deepEqual((await answer("s.service.consul", "A")).answers!.map((r) => [r.type, (r as dnsPacket.StringAnswer).data]), [["A", "10.3.0.1"]]);
  t.deepEqual((await answer("ext.service.consul", "A")).answers!.map((r) => [r.type, (r as dnsPacket.StringAnswer).data]), [["CNAME", "api.example.com"]]);
  const srv = await answer("ext.service.consul", "SRV");
  t.deepEqual(srv.answers!.map((r) => (r as dnsPacket.SrvAnswer).data), [{ priority: 1, weight: 1, port: 443, target: "api.example.com" }]);
  t.is(srv.additionals!.filter((r) => r.type === "A").length, 0);
  t.deepEqual((await answer("named.node.consul", "A")).answers!.map((r) => [r.type, (r as dnsPacket.StringAnswer).data]), [["CNAME", "storage.example.com"]]);
  const any = await answer("dual.node.consul", "ANY" as dnsPacket.RecordType);
  t.deepEqual(any.answers!.map((r) => r.type), ["AAAA"], "ANY prefers the tagged lan_ipv6, as Consul's translateAddressAccept");
  const glue = (await answer("s.service.consul", "SRV")).additionals!.map((r) => [r.type, (r as dnsPacket.StringAnswer).data]);
  t.deepEqual(glue, [["AAAA", "2001:db8::1"]]);
});

test("over TCP an answer past 64 KiB is trimmed to fit, not failed", async (t) => {
  const backend = new CatalogBackend();
  for (let i = 0; i < 1500; i++) {
    const node = `node-with-a-rather-long-name-${i}`;
    backend.node(node, `10.${(i >> 8) & 0xff}.${i & 0xff}.1`, { "consul-network-segment": "", rack: `rack-${i % 10}` });
    backend.service(node, { ID: "wide", Service: "wide", Port: 9000 });
  }
  const handle = handlerFor(backend);
  const bytes = await handle(queryPacket("wide.service.consul", "SRV"), "tcp");
  const answer = decode(bytes);
  t.is(answer.rcode, "NOERROR");
  t.true(bytes!.length <= 65535, `${bytes!.length} bytes`);
  t.true(answer.answers!.length > 300 && answer.answers!.length < 1500, `${answer.answers!.length} answers`);
  const targets = new Set(answer.answers!.map((record) => (record as dnsPacket.SrvAnswer).data.target));
  t.deepEqual(new Set(answer.additionals!.filter((record) => record.type === "A").map((record) => record.name)), targets);
});
