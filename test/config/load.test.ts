import test from "ava";
import { ConfigError, loadConfig, validateConfigFiles } from "../../src/agent/config/index.ts";
import { FlagError } from "../../src/cli/flags.ts";
import { fakeIo } from "./fake-io.ts";

const load = (argv: string[], files: Record<string, string> = {}) => loadConfig(argv, {}, fakeIo(files));
const json = (value: unknown) => JSON.stringify(value);

test("a client with only -data-dir gets Consul's defaults", (t) => {
  const { config, warnings } = load(["-data-dir", "/var/praetor"]);
  t.deepEqual(warnings, []);
  t.like(config, {
    server: false, bootstrap: false, bootstrapExpect: 0, dev: false, inMemory: false, nodeName: "host-1", datacenter: "dc1",
    dataDir: "/var/praetor", bindAddr: "0.0.0.0", clientAddr: "127.0.0.1", retryIntervalMs: 30_000, retryMax: 0,
    rejoinAfterLeave: false, ui: false, logLevel: "info", logJson: false, domain: "consul.", raftMultiplier: 5,
    sessionTtlMinMs: 10_000, checkUpdateIntervalMs: 300_000, leaveOnTerminate: true, skipLeaveOnInterrupt: false,
    reconnectTimeoutMs: 72 * 3_600_000, enableScriptChecks: false, enableLocalScriptChecks: false,
  });
  t.is(config.nodeId, undefined);
  t.is(config.advertiseAddr, undefined);
  t.is(config.encrypt, undefined);
  t.deepEqual(config.ports, { http: 8500, https: -1, dns: 8600, serfLan: 8301, serfWan: 8302, server: 8300, grpc: -1 });
  t.deepEqual(config.addresses, { http: ["127.0.0.1"], dns: ["127.0.0.1"] });
  t.like(config.dnsConfig, {
    allowStale: true, maxStaleMs: 87_600 * 3_600_000, nodeTtlMs: 0, udpAnswerLimit: 3, enableTruncate: false,
    onlyPassing: false, useCache: false, cacheMaxAgeMs: 0, recursorTimeoutMs: 2_000,
  });
  t.deepEqual(config.dnsConfig.serviceTtlMs, {});
  t.deepEqual(config.dnsConfig.soa, { expireS: 86_400, minTtlS: 0, refreshS: 3_600, retryS: 600 });
  t.deepEqual(config.sources, []);
});

test("-dev: an in-memory bootstrapped server on loopback with the UI and a fast Raft, no data dir needed", (t) => {
  const { config } = load(["-dev"]);
  t.like(config, {
    dev: true, inMemory: true, server: true, bootstrap: true, bindAddr: "127.0.0.1", clientAddr: "127.0.0.1", ui: true,
    raftMultiplier: 1, nodeName: "host-1", leaveOnTerminate: false, skipLeaveOnInterrupt: true,
  });
  t.is(config.dataDir, undefined);
  t.true(config.gossipLan.probeTimeoutMs < config.gossipLan.probeIntervalMs);
});

test("a server's leave defaults flip: SIGTERM does not leave, SIGINT skips the leave", (t) => {
  const { config } = load(["-server", "-data-dir=/d", "-bootstrap-expect=3"]);
  t.like(config, { server: true, bootstrapExpect: 3, leaveOnTerminate: false, skipLeaveOnInterrupt: true });
});

test("every flag the issue lists sets its field, with one or two dashes and either value form", (t) => {
  const { config } = load([
    "--server", "-bootstrap-expect", "3", "-node=n1", "-node-id", "ABCDEF01-2345-6789-abcd-ef0123456789",
    "-datacenter", "East-1", "-bind", "10.0.0.5", "-advertise", "10.0.0.6", "-advertise-wan=1.2.3.4", "-client",
    "0.0.0.0", "-ui", "-http-port", "18500", "-dns-port=18600", "-serf-lan-port", "18301", "-serf-wan-port", "18302",
    "-server-port", "18300", "-join", "10.0.0.1", "-join", "10.0.0.2", "-retry-join", "10.0.0.3", "-retry-interval",
    "5s", "-retry-max", "7", "-join-wan", "5.6.7.8", "-retry-join-wan", "9.9.9.9", "-data-dir", "/d", "-pid-file",
    "/run/p.pid", "-log-level", "DEBUG", "-log-json", "-log-file", "/var/log/p.log", "-enable-script-checks",
    "-enable-local-script-checks", "-rejoin", "-domain", "example", "-recursor", "8.8.8.8", "-recursor",
    "1.1.1.1:53", "-encrypt", Buffer.alloc(32, 7).toString("base64"), "-node-meta", "rack:r1", "-node-meta", "zone:a:b",
  ]);
  t.like(config, {
    server: true, bootstrapExpect: 3, nodeName: "n1", nodeId: "abcdef01-2345-6789-abcd-ef0123456789", datacenter: "east-1",
    bindAddr: "10.0.0.5", advertiseAddr: "10.0.0.6", advertiseAddrWan: "1.2.3.4", clientAddr: "0.0.0.0", ui: true,
    retryIntervalMs: 5_000, retryMax: 7, dataDir: "/d", pidFile: "/run/p.pid", logLevel: "debug", logJson: true,
    logFile: "/var/log/p.log", enableScriptChecks: true, enableLocalScriptChecks: true, rejoinAfterLeave: true,
    domain: "example.", encrypt: Buffer.alloc(32, 7).toString("base64"),
  });
  t.like(config.ports, { http: 18500, dns: 18600, serfLan: 18301, serfWan: 18302, server: 18300 });
  t.deepEqual(config.startJoin, ["10.0.0.1", "10.0.0.2"]);
  t.deepEqual(config.retryJoin, ["10.0.0.3"]);
  t.deepEqual(config.startJoinWan, ["5.6.7.8"]);
  t.deepEqual(config.retryJoinWan, ["9.9.9.9"]);
  t.deepEqual(config.recursors, ["8.8.8.8", "1.1.1.1:53"]);
  t.deepEqual(config.nodeMeta, { rack: "r1", zone: "a:b" });
});

test("an unknown flag is an error naming it; extra arguments too", (t) => {
  t.throws(() => load(["-dev", "-bogus"]), { instanceOf: FlagError, message: "flag provided but not defined: -bogus" });
  t.throws(() => load(["-dev", "-retry-max=-1"]), { instanceOf: FlagError, message: 'invalid value "-1" for flag -retry-max: parse error' });
  t.throws(() => load(["-dev", "-retry-interval", "soon"]), { instanceOf: FlagError, message: /invalid value "soon" for flag -retry-interval/ });
  t.throws(() => load(["-dev", "stray"]), { instanceOf: FlagError, message: "unexpected extra arguments: stray" });
  t.throws(() => load(["-data-dir"]), { instanceOf: FlagError, message: "flag needs an argument: -data-dir" });
});

test("Consul's JSON keys set the same fields as the flags", (t) => {
  const file = json({
    server: true, bootstrap_expect: 3, datacenter: "DC2", node_name: "web-1", data_dir: "/data", bind_addr: "10.1.1.1",
    client_addr: "127.0.0.1 10.1.1.1", advertise_addr: "10.1.1.2", start_join: ["a"], retry_join: ["b"],
    retry_interval: "1m30s", rejoin_after_leave: true, ports: { http: 8501, dns: -1 }, addresses: { http: "0.0.0.0" },
    ui_config: { enabled: true }, log_level: "warn", enable_script_checks: true, recursors: ["9.9.9.9"], domain: "corp.",
    performance: { raft_multiplier: 2 }, dns_config: { node_ttl: "10s", service_ttl: { "*": "5s", web: "30s" }, only_passing: true, udp_answer_limit: 5, soa: { min_ttl: 60 } },
    session_ttl_min: "30s", check_update_interval: "1m", reconnect_timeout: "8h", node_meta: { rack: "r2" },
  });
  const { config, warnings } = load(["-config-file", "/etc/p/a.json"], { "/etc/p/a.json": file });
  t.deepEqual(warnings, []);
  t.like(config, {
    server: true, bootstrapExpect: 3, datacenter: "dc2", nodeName: "web-1", dataDir: "/data", bindAddr: "10.1.1.1",
    clientAddr: "127.0.0.1 10.1.1.1", advertiseAddr: "10.1.1.2", retryIntervalMs: 90_000, rejoinAfterLeave: true, ui: true,
    logLevel: "warn", enableScriptChecks: true, domain: "corp.", raftMultiplier: 2, sessionTtlMinMs: 30_000,
    checkUpdateIntervalMs: 60_000, reconnectTimeoutMs: 8 * 3_600_000,
  });
  t.deepEqual(config.clientAddrs, ["127.0.0.1", "10.1.1.1"]);
  t.deepEqual(config.addresses, { http: ["0.0.0.0"], dns: ["127.0.0.1", "10.1.1.1"] });
  t.like(config.ports, { http: 8501, dns: -1, serfLan: 8301 });
  t.like(config.dnsConfig, { nodeTtlMs: 10_000, onlyPassing: true, udpAnswerLimit: 5, allowStale: true });
  t.deepEqual(config.dnsConfig.serviceTtlMs, { "*": 5_000, web: 30_000 });
  t.deepEqual(config.dnsConfig.soa, { expireS: 86_400, minTtlS: 60, refreshS: 3_600, retryS: 600 });
  t.deepEqual(config.nodeMeta, { rack: "r2" });
  t.deepEqual(config.sources, ["/etc/p/a.json"]);
});

test("merge order: files in command-line order, a directory's files by name, later wins, maps merge, lists append, flags last", (t) => {
  const files = {
    "/first.json": json({ datacenter: "one", retry_join: ["from-first"], node_meta: { a: "1", b: "1" }, log_level: "debug", data_dir: "/d" }),
    "/conf.d/20-b.json": json({ datacenter: "dir-b", retry_join: ["from-20"], node_meta: { b: "20" } }),
    "/conf.d/10-a.json": json({ datacenter: "dir-a", retry_join: ["from-10"], node_meta: { c: "10" }, ports: { dns: 1053 } }),
    "/conf.d/notes.txt": "not config",
    "/conf.d/sub/ignored.json": json({ datacenter: "never" }),
    "/last.json": json({ retry_join: ["from-last"], ports: { http: 1080 } }),
  };
  const io = fakeIo(files);
  const { config } = loadConfig(["-config-file=/first.json", "-retry-join", "from-flag", "-config-dir", "/conf.d", "-config-file", "/last.json", "-datacenter", "flagdc"], {}, io);
  t.deepEqual(config.sources, ["/first.json", "/conf.d/10-a.json", "/conf.d/20-b.json", "/last.json"]);
  t.deepEqual(io.reads, config.sources);
  t.is(config.datacenter, "flagdc");
  t.deepEqual(config.retryJoin, ["from-first", "from-10", "from-20", "from-last", "from-flag"]);
  t.deepEqual(config.nodeMeta, { a: "1", b: "20", c: "10" });
  t.like(config.ports, { dns: 1053, http: 1080, serfLan: 8301 });
  t.is(config.logLevel, "debug");
});

test("without the flag the last directory file wins", (t) => {
  const files = {
    "/conf.d/a.json": json({ datacenter: "aa", data_dir: "/d" }),
    "/conf.d/b.json": json({ datacenter: "bb" }),
  };
  t.is(load(["-config-dir", "/conf.d"], files).config.datacenter, "bb");
});

test("-dev's defaults sit under the files: a file may still turn the UI off", (t) => {
  const { config } = load(["-dev", "-config-file", "/c.json"], { "/c.json": json({ ui_config: { enabled: false }, log_level: "info" }) });
  t.like(config, { dev: true, ui: false, logLevel: "info", raftMultiplier: 1 });
});

test("services from every file append, each normalised to the API's shape with its file; checks stay raw", (t) => {
  const files = {
    "/s/1.json": json({ service: { name: "web", port: 80, tags: ["v1"], check: { http: "http://localhost/health", interval: "10s" } } }),
    "/s/2.json": json({
      services: [
        { ID: "db-1", Name: "db", Port: 5432, Meta: { role: "primary" }, EnableTagOverride: true, Checks: [{ TCP: "localhost:5432", Interval: "5s" }] },
        { name: "cache", address: "10.0.0.9", weights: { passing: 3 }, tagged_addresses: { lan: { address: "10.0.0.9", port: 6379 } } },
      ],
      check: { id: "mem", args: ["/bin/check-mem"], interval: "30s" },
    }),
    "/s/3.json": json({ service: { name: "api" }, checks: [{ id: "disk", ttl: "1m" }] }),
  };
  const { config, warnings } = load(["-data-dir=/d", "-config-dir", "/s"], files);
  t.deepEqual(warnings, []);
  t.deepEqual(config.services.map((s) => [s.ID, s.Name, s.source]), [
    [undefined, "web", "/s/1.json"], ["db-1", "db", "/s/2.json"], [undefined, "cache", "/s/2.json"], [undefined, "api", "/s/3.json"],
  ]);
  t.deepEqual(config.services[0], {
    Name: "web", Tags: ["v1"], Address: "", Port: 80, Meta: {}, EnableTagOverride: false, source: "/s/1.json",
    Checks: [{ http: "http://localhost/health", interval: "10s" }],
  });
  t.like(config.services[1], { Port: 5432, Meta: { role: "primary" }, EnableTagOverride: true, Checks: [{ TCP: "localhost:5432", Interval: "5s" }] });
  t.like(config.services[2], { Address: "10.0.0.9", Weights: { Passing: 3, Warning: 1 }, TaggedAddresses: { lan: { Address: "10.0.0.9", Port: 6379 } } });
  t.deepEqual(config.checks, [
    { definition: { id: "mem", args: ["/bin/check-mem"], interval: "30s" }, source: "/s/2.json" },
    { definition: { id: "disk", ttl: "1m" }, source: "/s/3.json" },
  ]);
});

test("two services with the same ID are refused, naming both files", (t) => {
  const files = { "/a.json": json({ service: { name: "web" }, data_dir: "/d" }), "/b.json": json({ service: { name: "web" } }) };
  t.throws(() => load(["-config-file=/a.json", "-config-file=/b.json"], files), {
    instanceOf: ConfigError, message: '/b.json: service ID "web" is defined twice (also in /a.json); give each an "id"',
  });
});

test("unknown keys warn with the file and key; Consul keys Praetor ignores say so", (t) => {
  const files = { "/c.json": json({ data_dir: "/d", datacentre: "x", telemetry: { statsd_address: "x" }, dns_config: { allow_stael: true }, service: { name: "w", connect: {}, colour: "red" } }) };
  const { warnings } = load(["-config-file", "/c.json"], files);
  t.deepEqual(warnings, [
    "/c.json: invalid config key datacentre (ignored)",
    "/c.json: telemetry is not supported by Praetor and is ignored",
    "/c.json: invalid config key dns_config.allow_stael (ignored)",
    "/c.json: service.connect is not supported by Praetor and is ignored",
    "/c.json: invalid config key service.colour (ignored)",
  ]);
});

test("a bad value fails naming the file, the key and what was expected", (t) => {
  const cases: [unknown, string][] = [
    [{ server: "yes" }, '/c.json: server: expected true or false, got string "yes"'],
    [{ bootstrap_expect: -1 }, "/c.json: bootstrap_expect: expected a non-negative integer, got number -1"],
    [{ retry_interval: 30 }, '/c.json: retry_interval: expected a duration such as "30s", "5m" or "72h", got number 30'],
    [{ retry_interval: "30 seconds" }, '/c.json: retry_interval: expected a duration such as "30s", "5m" or "72h", got string "30 seconds"'],
    [{ ports: { http: 70000 } }, "/c.json: ports.http: expected a port number (1-65535, 0 for any free port, -1 to disable), got number 70000"],
    [{ ports: 8500 }, "/c.json: ports: expected an object, got number 8500"],
    [{ retry_join: "10.0.0.1" }, '/c.json: retry_join: expected a list of strings, got string "10.0.0.1"'],
    [{ node_meta: { rack: 1 } }, "/c.json: node_meta.rack: expected a string, got number 1"],
    [{ dns_config: { service_ttl: { web: "forever" } } }, '/c.json: dns_config.service_ttl.web: expected a duration such as "30s", "5m" or "72h", got string "forever"'],
    [{ service: { port: 80 } }, '/c.json: service: a service definition needs a name ("name": "web")'],
    [{ service: { name: "w", port: "80" } }, '/c.json: service.port: expected a port number (0-65535), got string "80"'],
    [{ checks: ["x"] }, '/c.json: checks[0]: expected a check definition object, got string "x"'],
    [[1, 2], "/c.json: expected an object at the top level, got a list"],
  ];
  for (const [content, message] of cases) {
    t.throws(() => load(["-data-dir=/d", "-config-file", "/c.json"], { "/c.json": json(content) }), { instanceOf: ConfigError, message }, JSON.stringify(content));
  }
});

test("malformed JSON and missing files name the file", (t) => {
  t.throws(() => load(["-config-file", "/c.json"], { "/c.json": '{"server": true,' }), { instanceOf: ConfigError, message: /^\/c\.json: invalid JSON: / });
  t.throws(() => load(["-config-file", "/nope.json"]), { instanceOf: ConfigError, message: 'Error reading "/nope.json": no such file or directory' });
  t.throws(() => load(["-config-dir", "/c.json"], { "/c.json": "{}" }), { instanceOf: ConfigError, message: '-config-dir "/c.json" is not a directory (use -config-file for a file)' });
  t.throws(() => load(["-config-file", "/c.yaml"], { "/c.yaml": "server: true" }), { instanceOf: ConfigError, message: "/c.yaml: cannot tell the format: name it .json or .hcl, or pass -config-format" });
  t.notThrows(() => load(["-config-file", "/c.yaml", "-config-format", "json", "-dev"], { "/c.yaml": '{"server": true}' }));
  t.is(load(["-config-file", "/empty.json", "-dev"], { "/empty.json": "  \n" }).config.dev, true);
});

test("cross-key checks speak Consul's words", (t) => {
  const cases: [string[], string][] = [
    [["-data-dir=/d", "-bootstrap"], "'bootstrap = true' not allowed in client mode (add -server)"],
    [["-data-dir=/d", "-bootstrap-expect=3"], "'bootstrap_expect > 0' not allowed in client mode (add -server)"],
    [["-dev", "-bootstrap-expect=3"], "'bootstrap_expect > 0' not allowed in dev mode"],
    [["-data-dir=/d", "-server", "-bootstrap", "-bootstrap-expect=3"], "'bootstrap_expect > 0' and 'bootstrap = true' are mutually exclusive"],
    [["-server"], "data_dir cannot be empty (set -data-dir or data_dir, or use -dev for an in-memory agent)"],
    [["-dev", "-datacenter", "dc 1"], 'datacenter: "dc 1" is not a valid datacenter name: only alphanumerics, hyphens and underscores'],
    [["-dev", "-node-id", "not-a-uuid"], 'node_id: "not-a-uuid" is not a valid UUID (like 41958888-acfb-fe9e-13ae-a3b8f8534b2a)'],
    [["-dev", "-log-level", "loud"], 'log_level: "loud" is not a log level: expected trace, debug, info, warn or error'],
    [["-dev", "-bind", "0.0.0.0 127.0.0.1"], "bind_addr: multiple addresses found (0.0.0.0, 127.0.0.1); give one"],
    [["-dev", "-bind", '{{ GetPrivateIP }}'], 'bind_addr: go-sockaddr templates like "{{ GetPrivateIP }}" are not supported; give an IP address'],
    [["-dev", "-client", "localhost"], 'client_addr: expected an IP address, got "localhost"'],
    [["-dev", "-advertise", "0.0.0.0"], "advertise_addr cannot be 0.0.0.0: advertise an address other agents can reach"],
    [["-dev", "-encrypt", "c2hvcnQ="], "encrypt has invalid key: expected the base64 of 16, 24 or 32 bytes (make one with `praetor keygen`)"],
    [["-dev", "-recursor", "dns.google"], 'recursors: expected an IP address or IP:port, got "dns.google"'],
    [["-dev", "-node-meta", "consul-x:1"], 'node_meta: key "consul-x" uses the reserved prefix "consul-"'],
    [["-dev", "-node-meta", "bad key:1"], 'node_meta: key "bad key" must be 1-128 letters, digits, \'-\' or \'_\''],
    [["-dev", "-serf-lan-port", "-1"], "ports.serf_lan: expected a port number (1-65535, or 0 for any free port), got -1"],
  ];
  for (const [argv, message] of cases) t.throws(() => load(argv), { instanceOf: ConfigError, message }, argv.join(" "));
});

test("cross-key checks on file values", (t) => {
  const cases: [unknown, string][] = [
    [{ performance: { raft_multiplier: 11 } }, "performance.raft_multiplier cannot be 11. Must be between 1 and 10"],
    [{ reconnect_timeout: "1h" }, "reconnect_timeout must be >= 8h0m0s, got 1h0m0s"],
    [{ gossip_lan: { probe_timeout: "2s" } }, "gossip_lan.probe_timeout (2s) must be shorter than gossip_lan.probe_interval (1s)"],
    [{ dns_config: { recursor_strategy: "fastest" } }, 'dns_config.recursor_strategy: expected "sequential" or "random", got "fastest"'],
  ];
  for (const [content, message] of cases) {
    t.throws(() => load(["-data-dir=/d", "-config-file", "/c.json"], { "/c.json": json(content) }), { instanceOf: ConfigError, message });
  }
});

test("an HTTPS port loads (Consul's sdk/testutil always sets one) with a warning that it is not served", (t) => {
  const { config, warnings } = load(["-data-dir=/d", "-config-file", "/c.json"], { "/c.json": json({ ports: { https: 8501 } }) });
  t.is(config.ports.https, 8501);
  t.deepEqual(warnings, ["ports.https: HTTPS is not supported by Praetor yet; port 8501 is not served"]);
});

test("risky settings warn: bootstrap_expect of 1, 2 or even, an undiscoverable node name", (t) => {
  const warningsFor = (argv: string[]) => load(["-data-dir=/d", ...argv]).warnings;
  t.deepEqual(warningsFor(["-server", "-bootstrap-expect=1"]), ["bootstrap_expect = 1: this is the same as bootstrap mode."]);
  t.true(load(["-data-dir=/d", "-server", "-bootstrap-expect=1"]).config.bootstrap);
  t.deepEqual(warningsFor(["-server", "-bootstrap-expect=2"]), ["bootstrap_expect = 2: a cluster with 2 servers will provide no failure tolerance."]);
  t.deepEqual(warningsFor(["-server", "-bootstrap-expect=4"]), ["bootstrap_expect = 4: a cluster with an even number of servers does not achieve optimum fault tolerance."]);
  t.deepEqual(warningsFor(["-server", "-bootstrap-expect=5"]), []);
  t.deepEqual(warningsFor(["-node", "web_1"]), ['Node name "web_1" will not be discoverable via DNS due to invalid characters. Valid characters include all alpha-numerics and dashes.']);
});

test("ui (the older key) and ui_config.enabled both turn the UI on; domains gain their dot", (t) => {
  t.true(load(["-dev", "-config-file=/u.json"], { "/u.json": json({ ui: true }) }).config.ui);
  const { config } = load(["-dev", "-domain", "Corp", "-alt-domain", "alt.example"]);
  t.is(config.domain, "corp.");
  t.is(config.altDomain, "alt.example.");
});

test("HCL files load like JSON, in the same directory order", (t) => {
  const files = {
    "/c/00.hcl": `
      # the usual shape of a Consul config file
      datacenter = "hcl-dc"
      data_dir   = "/opt/praetor"
      server     = true
      bootstrap_expect = 3
      retry_join = ["10.0.0.1", "10.0.0.2"]
      ports {
        http = 8501
        dns  = -1
      }
      dns_config { service_ttl { "*" = "5s" } }
      service {
        name = "web"
        port = 80
        check { http = "http://localhost/" interval = "10s" }
      }
      service {
        name = "db"
      }
    `,
    "/c/01.json": json({ retry_join: ["10.0.0.3"] }),
  };
  const { config, warnings } = load(["-config-dir", "/c"], files);
  t.deepEqual(warnings, []);
  t.like(config, { datacenter: "hcl-dc", dataDir: "/opt/praetor", server: true, bootstrapExpect: 3 });
  t.deepEqual(config.retryJoin, ["10.0.0.1", "10.0.0.2", "10.0.0.3"]);
  t.like(config.ports, { http: 8501, dns: -1 });
  t.deepEqual(config.dnsConfig.serviceTtlMs, { "*": 5000 });
  t.deepEqual(config.services.map((s) => [s.Name, s.Port, s.Checks]), [["web", 80, [{ http: "http://localhost/", interval: "10s" }]], ["db", 0, []]]);
});

test("-hcl fragments apply after the files and before the other flags", (t) => {
  const { config } = load(["-dev", "-hcl", 'datacenter = "from-hcl"', "-hcl", "log_level = \"warn\"", "-log-level=error"]);
  t.is(config.datacenter, "from-hcl");
  t.is(config.logLevel, "error");
});

test("validate reads files and directories like the agent, and requires what the agent requires", (t) => {
  const files = { "/ok/a.json": json({ data_dir: "/d", server: true, bootstrap_expect: 3 }), "/bad.json": json({ server: true }) };
  const ok = validateConfigFiles(["/ok"], fakeIo(files));
  t.deepEqual(ok.config.sources, ["/ok/a.json"]);
  t.throws(() => validateConfigFiles(["/bad.json"], fakeIo(files)), { instanceOf: ConfigError, message: /^data_dir cannot be empty/ });
  t.throws(() => validateConfigFiles(["/missing"], fakeIo(files)), { instanceOf: ConfigError, message: 'Error reading "/missing": no such file or directory' });
});
