/**
 * Beyond the seeds, with real `dig`: SRV glue, RFC 2782 names, service addresses, PTR, addr names,
 * trimming over UDP and the whole answer over TCP, EDNS0, negative answers, health filtering,
 * TTLs, case, datacenters and the alternate domain.
 */
import test from "ava";
import { CatalogBackend, dig, header, section, serve, type Running } from "./harness.ts";

const backend = new CatalogBackend("dc1", "server-1");
backend.node("server-1", "10.0.0.1", { "consul-network-segment": "", rack: "r1" });
backend.service("server-1", { ID: "consul", Service: "consul", Port: 8300 });
for (let i = 1; i <= 3; i++) {
  backend.node(`web-${i}`, `10.0.1.${i}`);
  backend.service(`web-${i}`, { ID: "web", Service: "web", Tags: ["v1", i === 1 ? "primary" : "replica"], Port: 8080 + i });
}
// An instance with its own address, and one on a node with an IPv6 address.
backend.node("edge", "10.0.2.1");
backend.service("edge", { ID: "web-edge", Service: "web", Tags: ["v2"], Address: "192.168.7.9", Port: 9000 });
backend.node("v6node", "fd00::5", {});
backend.service("v6node", { ID: "db", Service: "db", Port: 5432 });
// Health: a critical instance, a warning one, and a node whose serfHealth failed.
backend.node("sick", "10.0.3.1");
backend.service("sick", { ID: "api", Service: "api", Port: 80 }, [{ CheckID: "api-check", Name: "api", Status: "critical", ServiceID: "api" }]);
backend.node("shaky", "10.0.3.2");
backend.service("shaky", { ID: "api", Service: "api", Port: 80 }, [{ CheckID: "api-check", Name: "api", Status: "warning", ServiceID: "api" }]);
backend.node("fine", "10.0.3.3");
backend.service("fine", { ID: "api", Service: "api", Port: 80 });
backend.node("down", "10.0.3.4");
backend.service("down", { ID: "api", Service: "api", Port: 80 });
backend.check("down", { CheckID: "serfHealth", Name: "Serf Health Status", Status: "critical" });
// Mixed-case names in the catalog.
backend.node("Mixed-Case", "10.0.4.1");
backend.service("Mixed-Case", { ID: "Billing", Service: "Billing", Port: 7000 });
// Twenty instances, more than fit a 512-byte UDP answer.
for (let i = 1; i <= 20; i++) {
  backend.node(`big-node-with-a-long-name-${String(i).padStart(2, "0")}`, `10.9.0.${i}`);
  backend.service(`big-node-with-a-long-name-${String(i).padStart(2, "0")}`, { ID: "big", Service: "big", Port: 6000 + i });
}

// Prepared queries: web's v1 instances with their own TTL, api (health-filtered by the query), and a template.
backend.preparedQuery({ ID: "aaaaaaaa-1111-4111-8111-111111111111", Name: "web-v1", Service: { Service: "web", Tags: ["v1"] }, DNS: { TTL: "12s" } });
backend.preparedQuery({ ID: "aaaaaaaa-2222-4222-8222-222222222222", Name: "api-any", Service: { Service: "api", OnlyPassing: true } });
backend.preparedQuery({ ID: "aaaaaaaa-3333-4333-8333-333333333333", Name: "tpl-", Template: { Type: "name_prefix_match" }, Service: { Service: "${name.suffix}" } });
backend.preparedQuery({ ID: "aaaaaaaa-4444-4444-8444-444444444444", Name: "nobody", Service: { Service: "no-such-service" } });

let plain: Running;
let tuned: Running;

test.before(async () => {
  plain = await serve(backend);
  tuned = await serve(backend, {
    enableTruncate: true, onlyPassing: true, nodeTtlMs: 10_000, serviceTtlMs: { web: 30_000, "b*": 15_000, "*": 5_000 },
    altDomain: "praetor.test.",
  });
});
test.after.always(async () => {
  await plain.close();
  await tuned.close();
});

const answers = async (server: Running, ...args: string[]): Promise<string[]> => section(await dig(server.port, ...args), "ANSWER");

test.serial("SRV answers carry each target's address in the additional section", async (t) => {
  const out = await dig(plain.port, "v1.web.service.consul", "SRV");
  const srv = section(out, "ANSWER").sort();
  t.deepEqual(srv, [
    "v1.web.service.consul. 0 IN SRV 1 1 8081 web-1.node.dc1.consul.",
    "v1.web.service.consul. 0 IN SRV 1 1 8082 web-2.node.dc1.consul.",
    "v1.web.service.consul. 0 IN SRV 1 1 8083 web-3.node.dc1.consul.",
  ]);
  const glue = section(out, "ADDITIONAL").filter((line) => / IN A /.test(line)).sort();
  t.deepEqual(glue, [
    "web-1.node.dc1.consul. 0 IN A 10.0.1.1",
    "web-2.node.dc1.consul. 0 IN A 10.0.1.2",
    "web-3.node.dc1.consul. 0 IN A 10.0.1.3",
  ]);
});

test.serial("a service with its own address gets an <hex>.addr target and that address", async (t) => {
  const out = await dig(plain.port, "v2.web.service.consul", "SRV");
  t.deepEqual(section(out, "ANSWER"), ["v2.web.service.consul. 0 IN SRV 1 1 9000 c0a80709.addr.dc1.consul."]);
  t.true(section(out, "ADDITIONAL").includes("c0a80709.addr.dc1.consul. 0 IN A 192.168.7.9"));
  t.deepEqual(await answers(plain, "v2.web.service.consul", "A"), ["v2.web.service.consul. 0 IN A 192.168.7.9"]);
  t.deepEqual(await answers(plain, "c0a80709.addr.dc1.consul", "A"), ["c0a80709.addr.dc1.consul. 0 IN A 192.168.7.9"]);
});

test.serial("RFC 2782 names: _name._tcp is any tag, _name._tag filters, and the service label may be left out", async (t) => {
  t.is((await answers(plain, "_web._tcp.service.consul", "SRV")).length, 4);
  t.deepEqual(await answers(plain, "_web._primary.service.consul", "SRV"), ["_web._primary.service.consul. 0 IN SRV 1 1 8081 web-1.node.dc1.consul."]);
  t.deepEqual(await answers(plain, "_web._v2.consul", "SRV"), ["_web._v2.consul. 0 IN SRV 1 1 9000 c0a80709.addr.dc1.consul."]);
  t.is(header(await dig(plain.port, "_web._nosuchtag.service.consul", "SRV")).status, "NXDOMAIN");
});

test.serial("A answers are shuffled per query", async (t) => {
  const orders = new Set<string>();
  for (let i = 0; i < 20; i++) orders.add((await answers(plain, "v1.web.service.consul")).join(","));
  t.true(orders.size > 1, `20 queries all answered in one order: ${[...orders].join(" | ")}`);
  for (const order of orders) t.is(order.split(",").length, 3);
});

test.serial("PTR: an address names its node, or the service registered with it; IPv6 too", async (t) => {
  t.deepEqual(await answers(plain, "-x", "10.0.1.2"), ["2.1.0.10.in-addr.arpa. 0 IN PTR web-2.node.dc1.consul."]);
  t.deepEqual(await answers(plain, "-x", "192.168.7.9"), ["9.7.168.192.in-addr.arpa. 0 IN PTR web.service.dc1.consul."]);
  const v6 = await answers(plain, "-x", "fd00::5");
  t.is(v6.length, 1);
  t.regex(v6[0]!, /ip6\.arpa\. 0 IN PTR v6node\.node\.dc1\.consul\.$/);
  const unknown = await dig(plain.port, "-x", "10.255.0.1");
  t.is(header(unknown).status, "NXDOMAIN");
  t.regex(section(unknown, "AUTHORITY")[0] ?? "", /SOA ns\.consul\./);
});

test.serial("IPv6 nodes answer AAAA; an A question for them is NOERROR with no answer and the SOA", async (t) => {
  t.deepEqual(await answers(plain, "v6node.node.consul", "AAAA"), ["v6node.node.consul. 0 IN AAAA fd00::5"]);
  t.deepEqual(await answers(plain, "db.service.consul", "AAAA"), ["db.service.consul. 0 IN AAAA fd00::5"]);
  const out = await dig(plain.port, "db.service.consul", "A");
  t.is(header(out).status, "NOERROR");
  t.is(header(out).counts["ANSWER"], 0);
  t.regex(section(out, "AUTHORITY")[0] ?? "", /IN SOA/);
  t.deepEqual(await answers(plain, "fd000000000000000000000000000005.addr.dc1.consul", "AAAA"), ["fd000000000000000000000000000005.addr.dc1.consul. 0 IN AAAA fd00::5"]);
});

test.serial("a known name without records of the asked type is NOERROR/empty with the SOA; unknown names NXDOMAIN", async (t) => {
  for (const [name, type] of [["web.service.consul", "TXT"], ["web.service.consul", "MX"], ["web-1.node.consul", "SRV"], ["consul", "A"]] as const) {
    const out = await dig(plain.port, name, type);
    t.is(header(out).status, "NOERROR", `${name} ${type}`);
    t.is(header(out).counts["ANSWER"], 0, `${name} ${type}`);
    t.is(section(out, "AUTHORITY").length, 1, `${name} ${type}`);
  }
  for (const name of ["nope.service.consul", "nope.node.consul", "web.nope.consul", "zz.addr.dc1.consul", "web.service.dc1.extra.consul", "x.query.consul"]) {
    const out = await dig(plain.port, name);
    t.is(header(out).status, "NXDOMAIN", name);
    t.regex(section(out, "AUTHORITY")[0] ?? "", /^consul\. 0 IN SOA ns\.consul\. hostmaster\.consul\. \d+ 3600 600 86400 0$/, name);
  }
});

test.serial("NAME.query.consul: a prepared query's instances as A and SRV, its DNS.TTL, by name, ID, template and datacenter", async (t) => {
  t.deepEqual((await answers(plain, "web-v1.query.consul", "A")).sort(), [
    "web-v1.query.consul. 12 IN A 10.0.1.1", "web-v1.query.consul. 12 IN A 10.0.1.2", "web-v1.query.consul. 12 IN A 10.0.1.3",
  ]);
  t.deepEqual((await answers(plain, "WEB-V1.query.dc1.consul", "A")).length, 3, "case and an explicit datacenter");
  t.deepEqual((await answers(plain, "aaaaaaaa-1111-4111-8111-111111111111.query.consul", "A")).length, 3, "by ID");
  t.deepEqual((await answers(plain, "web-v1.query.consul", "SRV")).sort(), [
    "web-v1.query.consul. 12 IN SRV 1 1 8081 web-1.node.dc1.consul.",
    "web-v1.query.consul. 12 IN SRV 1 1 8082 web-2.node.dc1.consul.",
    "web-v1.query.consul. 12 IN SRV 1 1 8083 web-3.node.dc1.consul.",
  ]);
  t.deepEqual((await answers(plain, "api-any.query.consul", "A")).sort(), ["api-any.query.consul. 0 IN A 10.0.3.3"], "the query's OnlyPassing, not the agent's");
  t.deepEqual((await answers(plain, "tpl-db.query.consul", "AAAA")), ["tpl-db.query.consul. 0 IN AAAA fd00::5"], "a template renders ${name.suffix}");
  t.deepEqual((await answers(tuned, "tpl-web.query.consul", "A")).map((line) => line.split(" ")[1]), ["30", "30", "30", "30"], "no DNS.TTL: the service_ttl of the service");
  for (const name of ["nobody.query.consul", "missing.query.consul", "web-v1.query.dc2.consul"]) t.is(header(await dig(plain.port, name)).status, "NXDOMAIN", name);
});

test.serial("node TXT answers the meta as RFC 1464 strings", async (t) => {
  t.deepEqual(await answers(plain, "server-1.node.consul", "TXT"), [
    'server-1.node.consul. 0 IN TXT "consul-network-segment="',
    'server-1.node.consul. 0 IN TXT "rack=r1"',
  ]);
});

test.serial("critical instances are never answered; warning ones unless only_passing", async (t) => {
  t.deepEqual((await answers(plain, "api.service.consul")).sort(), ["api.service.consul. 0 IN A 10.0.3.2", "api.service.consul. 0 IN A 10.0.3.3"]);
  t.deepEqual(await answers(tuned, "api.service.consul"), ["api.service.consul. 5 IN A 10.0.3.3"]);
});

test.serial("TTLs come from node_ttl and service_ttl (exact name, then the longest prefix, then *)", async (t) => {
  t.regex((await answers(tuned, "web-1.node.consul"))[0]!, / 10 IN A 10\.0\.1\.1$/);
  t.regex((await answers(tuned, "primary.web.service.consul"))[0]!, / 30 IN A 10\.0\.1\.1$/);
  t.regex((await answers(tuned, "big.service.consul"))[0]!, / 15 IN A /);
  t.regex((await answers(tuned, "consul.service.consul"))[0]!, / 5 IN A 10\.0\.0\.1$/);
});

test.serial("UDP without EDNS: udp_answer_limit answers, TC when enable_truncate; TCP: every answer", async (t) => {
  const udp = await dig(tuned.port, "+noedns", "+ignore", "big.service.consul", "A");
  t.is(header(udp).counts["ANSWER"], 3);
  t.true(header(udp).flags.includes("tc"), udp);
  const silent = await dig(plain.port, "+noedns", "+ignore", "big.service.consul", "A");
  t.is(header(silent).counts["ANSWER"], 3);
  t.false(header(silent).flags.includes("tc"), "Consul trims silently unless enable_truncate");
  const tcp = await dig(tuned.port, "+noedns", "+tcp", "big.service.consul", "A");
  t.is(header(tcp).counts["ANSWER"], 20);
  t.false(header(tcp).flags.includes("tc"));
  // dig itself retries over TCP when it sees TC.
  const retried = await dig(tuned.port, "+noedns", "big.service.consul", "A");
  t.is(header(retried).counts["ANSWER"], 20);
});

test.serial("SRV over UDP fits 512 bytes with glue for exactly the answers kept", async (t) => {
  const out = await dig(tuned.port, "+noedns", "+ignore", "big.service.consul", "SRV");
  const size = Number(/MSG SIZE {2}rcvd: (\d+)/.exec(out)?.[1]);
  t.true(size <= 512, `${size} bytes`);
  const srv = section(out, "ANSWER");
  t.true(srv.length >= 1 && srv.length <= 3, `${srv.length} answers`);
  const targets = srv.map((line) => line.split(" ").at(-1)!).sort();
  const glue = section(out, "ADDITIONAL").filter((line) => / IN A /.test(line)).map((line) => line.split(" ")[0]!).sort();
  t.deepEqual(glue, targets);
  t.true(header(out).flags.includes("tc"));
});

test.serial("EDNS0: the client's buffer size is echoed and raises the UDP limit past udp_answer_limit", async (t) => {
  const out = await dig(tuned.port, "+bufsize=1232", "+ignore", "big.service.consul", "SRV");
  t.regex(out, /; EDNS: version: 0, flags:; udp: 1232/);
  const size = Number(/MSG SIZE {2}rcvd: (\d+)/.exec(out)?.[1]);
  t.true(size <= 1232, `${size} bytes`);
  const count = header(out).counts["ANSWER"]!;
  t.true(count > 3 && count < 20, `${count} answers`);
  const all = await dig(tuned.port, "+bufsize=65000", "big.service.consul", "SRV");
  t.is(header(all).counts["ANSWER"], 20);
  t.false(header(all).flags.includes("tc"));
  // EDNS version 1 is not spoken: BADVERS, and dig falls back to version 0 by itself.
  t.regex(await dig(tuned.port, "+edns=1", "+noednsnegotiation", "web.service.consul"), /status: BADVERS/);
  t.regex(await dig(tuned.port, "+edns=1", "web.service.consul"), /BADVERS, retrying with EDNS version 0[\s\S]*status: NOERROR/);
});

test.serial("names are case-insensitive and answers keep the question's spelling", async (t) => {
  t.deepEqual(await answers(plain, "WEB-1.Node.CONSUL"), ["WEB-1.Node.CONSUL. 0 IN A 10.0.1.1"]);
  t.deepEqual(await answers(plain, "billing.service.consul"), ["billing.service.consul. 0 IN A 10.0.4.1"]);
  t.deepEqual(await answers(plain, "mixed-case.node.consul"), ["mixed-case.node.consul. 0 IN A 10.0.4.1"]);
  t.deepEqual(await answers(plain, "PRIMARY.Web.Service.Consul", "SRV"), ["PRIMARY.Web.Service.Consul. 0 IN SRV 1 1 8081 web-1.node.dc1.Consul."]);
});

test.serial("datacenters: the agent's own by name, an unknown one NXDOMAIN", async (t) => {
  t.deepEqual(await answers(plain, "primary.web.service.dc1.consul"), ["primary.web.service.dc1.consul. 0 IN A 10.0.1.1"]);
  t.deepEqual(await answers(plain, "web-1.node.dc1.consul"), ["web-1.node.dc1.consul. 0 IN A 10.0.1.1"]);
  const out = await dig(plain.port, "web.service.dc9.consul");
  t.is(header(out).status, "NXDOMAIN");
  t.is(section(out, "AUTHORITY").length, 1);
});

test.serial("the alternate domain answers the same names, with targets and SOA in that domain", async (t) => {
  const out = await dig(tuned.port, "primary.web.service.praetor.test", "SRV");
  t.deepEqual(section(out, "ANSWER"), ["primary.web.service.praetor.test. 30 IN SRV 1 1 8081 web-1.node.dc1.praetor.test."]);
  const missing = await dig(tuned.port, "nope.service.praetor.test");
  t.regex(section(missing, "AUTHORITY")[0] ?? "", /^praetor\.test\. 0 IN SOA ns\.praetor\.test\. hostmaster\.praetor\.test\. /);
  t.is(header(await dig(tuned.port, "web.service.consul")).status, "NOERROR");
});

test.serial("SOA and NS at the apex name the servers (the consul service) with glue", async (t) => {
  const soa = await dig(plain.port, "consul", "SOA");
  t.regex(section(soa, "ANSWER")[0] ?? "", /^consul\. 0 IN SOA ns\.consul\. hostmaster\.consul\. \d+ 3600 600 86400 0$/);
  t.deepEqual(section(soa, "AUTHORITY"), ["consul. 0 IN NS server-1.node.dc1.consul."]);
  t.deepEqual(section(soa, "ADDITIONAL"), ["server-1.node.dc1.consul. 0 IN A 10.0.0.1"]);
  const ns = await dig(plain.port, "consul", "NS");
  t.deepEqual(section(ns, "ANSWER"), ["consul. 0 IN NS server-1.node.dc1.consul."]);
});

test.serial("DNS answers follow registration and deregistration at once", async (t) => {
  t.is(header(await dig(plain.port, "late.service.consul")).status, "NXDOMAIN");
  backend.service("web-1", { ID: "late", Service: "late", Port: 1234 });
  t.deepEqual(await answers(plain, "late.service.consul"), ["late.service.consul. 0 IN A 10.0.1.1"]);
  backend.deregister("web-1", "late");
  t.is(header(await dig(plain.port, "late.service.consul")).status, "NXDOMAIN");
});
