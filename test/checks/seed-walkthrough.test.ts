/**
 * The seed's walkthrough (../shared/seeds/001): a config file defines service "web" with a curl
 * script check every 10 s; with nothing on the port the check is critical with curl's own
 * output (empty here: `-s` silences today's curl), and `Service 'web' check` / `service:web`
 * are its name and ID. Here the port is a
 * random loopback one and the interval 100 ms.
 */
import test from "ava";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { CheckRunner, parseServiceChecks } from "../../src/agent/checks/index.ts";
import { testRunner, waitFor } from "./helpers.ts";

test("seed: web.json's curl check runs from a config file with local scripts enabled, passing then critical", async (t) => {
  const server = http.createServer((_req, res) => res.writeHead(200).end("healthy"));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  const webJson = JSON.parse(`{
    "service": {
      "name": "web",
      "tags": ["java"],
      "port": 8080,
      "check": { "args": ["curl", "-si", "127.0.0.1:${port}/health"], "interval": "100ms" }
    }
  }`) as { service: Record<string, unknown> };
  const parsed = parseServiceChecks(webJson.service, { source: "config file web.json", serviceId: "web", serviceName: "web" });
  if (!parsed.ok) throw parsed.error;
  const [check] = parsed.definitions;
  t.is(check!.id, "service:web");
  t.is(check!.name, "Service 'web' check");

  const { runner, changes } = testRunner({ enableScriptChecks: false, enableLocalScriptChecks: true });
  t.teardown(() => runner.stop());
  runner.add(check!, { origin: "local" });
  const up = await waitFor(changes, (c) => c.status === "passing", "curl reaches the server");
  t.regex(up.output, /^HTTP\/1\.1 200 OK/);
  t.regex(up.output, /healthy$/);
  await new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); });
  // curl exits 7 (connection refused): critical. `-s` keeps this curl silent about it.
  const down = await waitFor(changes, (c) => c.status === "critical", "curl is refused");
  t.is(down.output, "");
});

test("seed: the same definition over the HTTP API is refused while only local scripts are enabled", (t) => {
  const runner = new CheckRunner({ enableScriptChecks: false, enableLocalScriptChecks: true });
  t.teardown(() => runner.stop());
  const parsed = parseServiceChecks({ Name: "web", Check: { Args: ["curl", "-si", "localhost:8080/health"], Interval: "10s" } },
    { source: "HTTP API", serviceId: "web", serviceName: "web" });
  if (!parsed.ok) throw parsed.error;
  t.throws(() => runner.add(parsed.definitions[0]!, { origin: "remote" }), { message: /^Scripts are disabled on this agent from remote calls/ });
});
