/**
 * Every `dig` in the seeds (../shared/seeds/001_*.txt), against Praetor's DNS server over the real
 * catalog: the same status, flags, section counts and records, line for line. The seeds' dig sent
 * EDNS0 with a 4096-byte buffer (9.11) or none at all (9.9), so these do too.
 */
import test from "ava";
import { dig, header, section, seedsBackend, serve, type Running } from "./harness.ts";

const backend = seedsBackend();
// The seeds' second agent (a 0.7.5 client, without node meta) at 10.4.7.14.
backend.register({ Node: "agent-two", Address: "10.4.7.14", NodeMeta: {}, Checks: [{ CheckID: "serfHealth", Name: "Serf Health Status", Status: "passing" }] });
let running: Running;

test.before(async () => {
  running = await serve(backend);
});
test.after.always(async () => {
  await running.close();
});

/** `;; MSG SIZE  rcvd: N`: the seeds' sizes come out the same, since names are compressed as Consul does. */
const size = (out: string): number => Number(/MSG SIZE {2}rcvd: (\d+)/.exec(out)?.[1]);

const soaLine = /^consul\. 0 IN SOA ns\.consul\. hostmaster\.consul\. \d+ 3600 600 86400 0$/;

test.serial("seed: dig VM-0-17-centos.node.consul answers A 127.0.0.1 with the node meta as TXT", async (t) => {
  const out = await dig(running.port, "+bufsize=4096", "VM-0-17-centos.node.consul");
  const h = header(out);
  t.is(h.status, "NOERROR");
  t.deepEqual(h.flags, ["qr", "aa", "rd"]);
  t.deepEqual(h.counts, { QUERY: 1, ANSWER: 1, AUTHORITY: 0, ADDITIONAL: 2 });
  t.regex(out, /; EDNS: version: 0, flags:; udp: 4096/);
  t.deepEqual(section(out, "ANSWER"), ["VM-0-17-centos.node.consul. 0 IN A 127.0.0.1"]);
  t.deepEqual(section(out, "ADDITIONAL"), ['VM-0-17-centos.node.consul. 0 IN TXT "consul-network-segment="']);
  t.regex(out, /WARNING: recursion requested but not available/);
  t.is(size(out), 107);
});

test.serial("seed: dig web.service.consul answers A 127.0.0.1", async (t) => {
  const out = await dig(running.port, "+bufsize=4096", "web.service.consul");
  const h = header(out);
  t.is(h.status, "NOERROR");
  t.deepEqual(h.flags, ["qr", "aa", "rd"]);
  t.deepEqual(h.counts, { QUERY: 1, ANSWER: 1, AUTHORITY: 0, ADDITIONAL: 1 });
  t.deepEqual(section(out, "ANSWER"), ["web.service.consul. 0 IN A 127.0.0.1"]);
  t.is(size(out), 63);
});

test.serial("seed: dig web.service.consul SRV answers 1 1 8080 with the node's A and TXT as additional records", async (t) => {
  const out = await dig(running.port, "+bufsize=4096", "web.service.consul", "SRV");
  const h = header(out);
  t.is(h.status, "NOERROR");
  t.deepEqual(h.counts, { QUERY: 1, ANSWER: 1, AUTHORITY: 0, ADDITIONAL: 3 });
  t.deepEqual(section(out, "ANSWER"), ["web.service.consul. 0 IN SRV 1 1 8080 VM-0-17-centos.node.dc1.consul."]);
  t.is(size(out), 149);
  t.deepEqual(section(out, "ADDITIONAL"), [
    "VM-0-17-centos.node.dc1.consul. 0 IN A 127.0.0.1",
    'VM-0-17-centos.node.dc1.consul. 0 IN TXT "consul-network-segment="',
  ]);
});

test.serial("seed: dig java.web.service.consul SRV filters by tag", async (t) => {
  const out = await dig(running.port, "+bufsize=4096", "java.web.service.consul", "SRV");
  t.is(header(out).status, "NOERROR");
  t.deepEqual(header(out).counts, { QUERY: 1, ANSWER: 1, AUTHORITY: 0, ADDITIONAL: 3 });
  t.deepEqual(section(out, "ANSWER"), ["java.web.service.consul. 0 IN SRV 1 1 8080 VM-0-17-centos.node.dc1.consul."]);
  t.is(size(out), 154);
  t.deepEqual(section(out, "ADDITIONAL"), [
    "VM-0-17-centos.node.dc1.consul. 0 IN A 127.0.0.1",
    'VM-0-17-centos.node.dc1.consul. 0 IN TXT "consul-network-segment="',
  ]);
});

test.serial("seed: dig redis.service.consul SRV is NXDOMAIN with the SOA in the authority section", async (t) => {
  const out = await dig(running.port, "+bufsize=4096", "redis.service.consul", "SRV");
  const h = header(out);
  t.is(h.status, "NXDOMAIN");
  t.deepEqual(h.flags, ["qr", "aa", "rd"]);
  t.deepEqual(h.counts, { QUERY: 1, ANSWER: 0, AUTHORITY: 1, ADDITIONAL: 1 });
  const authority = section(out, "AUTHORITY");
  t.is(authority.length, 1);
  t.regex(authority[0]!, soaLine);
  t.is(size(out), 99);
});

test.serial("seed: dig agent-two.node.consul without EDNS (dig 9.9) answers its A record alone", async (t) => {
  const out = await dig(running.port, "+noedns", "agent-two.node.consul");
  const h = header(out);
  t.is(h.status, "NOERROR");
  t.deepEqual(h.flags, ["qr", "aa", "rd"]);
  t.deepEqual(h.counts, { QUERY: 1, ANSWER: 1, AUTHORITY: 0, ADDITIONAL: 0 });
  t.notRegex(out, /OPT PSEUDOSECTION/);
  t.deepEqual(section(out, "ANSWER"), ["agent-two.node.consul. 0 IN A 10.4.7.14"]);
  t.is(size(out), 55);
});

test.serial("seed: a failing check makes dig web.service.consul NXDOMAIN with the SOA", async (t) => {
  backend.check("VM-0-17-centos", { CheckID: "service:web", Name: "Service 'web' check", Status: "critical", ServiceID: "web" });
  try {
    const out = await dig(running.port, "+bufsize=4096", "web.service.consul");
    const h = header(out);
    t.is(h.status, "NXDOMAIN");
    t.deepEqual(h.counts, { QUERY: 1, ANSWER: 0, AUTHORITY: 1, ADDITIONAL: 1 });
    t.regex(section(out, "AUTHORITY")[0]!, soaLine);
    t.is(size(out), 97);
  } finally {
    backend.check("VM-0-17-centos", { CheckID: "service:web", Name: "Service 'web' check", Status: "passing", ServiceID: "web" });
  }
  t.deepEqual(section(await dig(running.port, "web.service.consul"), "ANSWER"), ["web.service.consul. 0 IN A 127.0.0.1"]);
});
