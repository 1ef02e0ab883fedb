/**
 * DNS tests' world: the real catalog core behind a backend that offers only what DNS may use
 * (`query`, `datacenter`, `nodeName`; anything else throws), the server on ephemeral loopback
 * ports, and `dig` run against it.
 */
import { execFile } from "node:child_process";
import dgram from "node:dgram";
import net from "node:net";
import { promisify } from "node:util";
import dnsPacket from "dns-packet";
import { ApiError, type AgentBackend, type CatalogQuery, type ReadOptions } from "../../src/agent/api.ts";
import { queryScopes } from "../../src/core/agent/query.ts";
import { Catalog, type CheckInput, type Command, type PreparedQueryInput, type ServiceInput } from "../../src/core/catalog/index.ts";
import { defaultDnsConfig, type DnsConfig } from "../../src/dns/config.ts";
import { createDnsHandler, type DnsHandlerWithStats } from "../../src/dns/handler.ts";
import { startDnsServer, type DnsServer } from "../../src/dns/server.ts";

const run = promisify(execFile);

export interface QueryLogEntry {
  readonly query: CatalogQuery;
  readonly options: ReadOptions;
}

/** The catalog behind an AgentBackend with DNS's three members only. */
export class CatalogBackend {
  readonly catalog = new Catalog();
  readonly log: QueryLogEntry[] = [];
  private index = 0;
  /** Set to make every query reject with this error. */
  failWith: Error | null = null;

  constructor(readonly datacenter = "dc1", readonly nodeName = "VM-0-17-centos") {}

  register(command: Omit<Extract<Command, { op: "catalog.register" }>, "v" | "op">): void {
    const result = this.catalog.apply({ v: 1, op: "catalog.register", ...command }, ++this.index);
    if (!result.ok) throw new Error(`register refused: ${JSON.stringify(result.error)}`);
  }

  deregister(node: string, serviceId?: string): void {
    const result = this.catalog.apply({ v: 1, op: "catalog.deregister", Node: node, ...(serviceId === undefined ? {} : { ServiceID: serviceId }) }, ++this.index);
    if (!result.ok) throw new Error(`deregister refused: ${JSON.stringify(result.error)}`);
  }

  /** A node as a dev agent registers itself: serfHealth passing, Consul's segment meta. */
  node(name: string, address: string, meta: Record<string, string> = { "consul-network-segment": "" }, tagged: Record<string, string> = {}): void {
    this.register({
      Node: name, Address: address, NodeMeta: meta, TaggedAddresses: tagged,
      Checks: [{ CheckID: "serfHealth", Name: "Serf Health Status", Status: "passing" }],
    });
  }

  service(node: string, service: ServiceInput, checks: CheckInput[] = []): void {
    const existing = this.catalog.catalogNode(node).value;
    if (existing === null) throw new Error(`service ${service.Service} on unknown node ${node}`);
    this.register({ Node: node, Address: existing.Node.Address, SkipNodeUpdate: true, Service: service, Checks: checks });
  }

  /** A prepared query through the log, as the leader applies one (the test gives its ID). */
  preparedQuery(query: PreparedQueryInput & { ID: string }): void {
    const result = this.catalog.apply({ v: 1, op: "query", nowMs: 0, Verb: "create", Query: query }, ++this.index);
    if (!result.ok) throw new Error(`prepared query refused: ${JSON.stringify(result.error)}`);
  }

  check(node: string, check: CheckInput): void {
    const existing = this.catalog.catalogNode(node).value;
    if (existing === null) throw new Error(`check on unknown node ${node}`);
    this.register({ Node: node, Address: existing.Node.Address, SkipNodeUpdate: true, Check: check });
  }

  private async run(query: CatalogQuery, options: ReadOptions): Promise<unknown> {
    this.log.push({ query, options });
    if (this.failWith !== null) throw this.failWith;
    if (options.dc !== undefined && options.dc !== this.datacenter) throw new ApiError(500, "No path to datacenter");
    const c = this.catalog;
    switch (query.kind) {
      case "catalogNodes": return c.catalogNodes(query.nodeMeta);
      case "catalogServices": return c.catalogServices(query.nodeMeta);
      case "catalogService": return c.catalogService(query.name, query.filter);
      case "catalogNode": return c.catalogNode(query.name);
      case "healthService": return c.healthService(query.name, query.filter);
      case "preparedQueryExecute": return c.preparedQueryExecute(query.id);
      default: throw new Error(`DNS should not ask for ${query.kind}`);
    }
  }

  /** Blocking reads in flight (an `index` given), as the agent holds them: until the query's scope moves, `waitMs` passes or the signal aborts. */
  blocked = 0;

  private async block(query: CatalogQuery, options: ReadOptions): Promise<void> {
    const index = options.index ?? 0;
    if (index === 0 || options.signal?.aborted === true) return;
    this.blocked++;
    try {
      await new Promise<void>((resolve) => {
        let cancel = (): void => {};
        const finish = (): void => {
          clearTimeout(timer);
          options.signal?.removeEventListener("abort", giveUp);
          resolve();
        };
        // The catalog drops a watch once it fired; only a timeout or an abort cancels one.
        const giveUp = (): void => {
          cancel();
          finish();
        };
        const timer = setTimeout(giveUp, options.waitMs ?? 300_000);
        options.signal?.addEventListener("abort", giveUp, { once: true });
        cancel = this.catalog.watch(queryScopes(query), index, finish);
      });
    } finally {
      this.blocked--;
    }
  }

  asBackend(): AgentBackend {
    const members: Partial<AgentBackend> = {
      datacenter: this.datacenter,
      nodeName: this.nodeName,
      query: (async (query: CatalogQuery, options: ReadOptions) => {
        await this.block(query, options);
        const result = (await this.run(query, options)) as { index: number; value: unknown };
        return { meta: { index: Math.max(1, result.index), knownLeader: true, lastContactMs: 0, consistency: options.consistency }, value: result.value };
      }) as AgentBackend["query"],
    };
    return new Proxy(members as AgentBackend, {
      get(target, property, receiver) {
        if (property in target) return Reflect.get(target, property, receiver);
        if (property === "then") return undefined;
        throw new Error(`DNS must not use backend.${String(property)}`);
      },
    });
  }
}

/** The seeds' dev agent: node VM-0-17-centos at 127.0.0.1 with web (tag java, port 8080). */
export function seedsBackend(): CatalogBackend {
  const backend = new CatalogBackend();
  backend.node("VM-0-17-centos", "127.0.0.1");
  backend.service("VM-0-17-centos", { ID: "consul", Service: "consul", Port: 8300 });
  backend.service("VM-0-17-centos", { ID: "web", Service: "web", Tags: ["java"], Port: 8080 });
  return backend;
}

export interface Running {
  readonly server: DnsServer;
  readonly handler: DnsHandlerWithStats;
  readonly port: number;
  close(): Promise<void>;
}

export async function serve(backend: CatalogBackend, config: Partial<DnsConfig> = {}, random?: () => number): Promise<Running> {
  const handler = createDnsHandler(backend.asBackend(), { ...defaultDnsConfig(), ...config }, random === undefined ? {} : { random });
  const server = await startDnsServer({ host: "127.0.0.1", port: 0, handler });
  if (server.udpPort !== server.tcpPort) throw new Error(`UDP ${server.udpPort} and TCP ${server.tcpPort} differ`);
  return { server, handler, port: server.udpPort, close: () => server.close() };
}

/** `dig @127.0.0.1 -p PORT ...args`, with a short timeout and one try. */
export async function dig(port: number, ...args: string[]): Promise<string> {
  const { stdout } = await run("dig", ["@127.0.0.1", "-p", String(port), "+time=10", "+tries=1", ...args], { timeout: 20_000 });
  return stdout;
}

/** A section of dig's output as trimmed record lines (tabs and spaces collapsed). */
export function section(output: string, name: "ANSWER" | "AUTHORITY" | "ADDITIONAL" | "QUESTION"): string[] {
  const lines = output.split("\n");
  const start = lines.findIndex((line) => line.startsWith(`;; ${name} SECTION:`));
  if (start < 0) return [];
  const out: string[] = [];
  for (const line of lines.slice(start + 1)) {
    if (line.trim() === "") break;
    out.push(line.trim().replace(/\s+/g, " "));
  }
  return out;
}

export function header(output: string): { status: string; flags: string[]; counts: Record<string, number> } {
  const status = /status: (\w+)/.exec(output)?.[1] ?? "none";
  const flagsLine = /;; flags: ([^;]*);(.*)$/m.exec(output);
  const counts: Record<string, number> = {};
  for (const match of (flagsLine?.[2] ?? "").matchAll(/(\w+): (\d+)/g)) counts[match[1]!] = Number(match[2]);
  return { status, flags: (flagsLine?.[1] ?? "").trim().split(/\s+/), counts };
}

/** Sends one query packet over UDP and decodes the answer (for what dig cannot craft). */
export async function udpExchange(port: number, packet: Buffer, timeoutMs = 2000, host = "127.0.0.1"): Promise<Buffer | null> {
  const socket = dgram.createSocket("udp4");
  try {
    return await new Promise<Buffer | null>((resolve, reject) => {
      const timer = setTimeout(() => resolve(null), timeoutMs);
      socket.on("message", (message) => {
        clearTimeout(timer);
        resolve(message);
      });
      socket.on("error", reject);
      socket.send(packet, port, host);
    });
  } finally {
    socket.close();
  }
}

/** Sends frames over one TCP connection and collects `expect` answers. */
export async function tcpExchange(port: number, frames: readonly Buffer[], expect: number, timeoutMs = 3000): Promise<Buffer[]> {
  const socket = net.connect({ host: "127.0.0.1", port });
  try {
    return await new Promise<Buffer[]>((resolve, reject) => {
      const answers: Buffer[] = [];
      let buffered: Buffer = Buffer.alloc(0);
      const timer = setTimeout(() => resolve(answers), timeoutMs);
      socket.on("error", reject);
      socket.on("close", () => {
        clearTimeout(timer);
        resolve(answers);
      });
      socket.on("data", (chunk: Buffer) => {
        buffered = Buffer.concat([buffered, chunk]);
        while (buffered.length >= 2 && buffered.length >= 2 + buffered.readUInt16BE(0)) {
          answers.push(buffered.subarray(2, 2 + buffered.readUInt16BE(0)));
          buffered = buffered.subarray(2 + buffered.readUInt16BE(0));
        }
        if (answers.length >= expect) {
          clearTimeout(timer);
          resolve(answers);
        }
      });
      for (const frame of frames) {
        const length = Buffer.alloc(2);
        length.writeUInt16BE(frame.length, 0);
        socket.write(Buffer.concat([length, frame]));
      }
    });
  } finally {
    socket.destroy();
  }
}

export function queryPacket(name: string, type: dnsPacket.RecordType, extra: Partial<dnsPacket.Packet> = {}): Buffer {
  return dnsPacket.encode({
    id: 4242, type: "query", flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ name, type, class: "IN" }], ...extra,
  });
}

/** A seeded generator in [0, 1) (mulberry32) for reproducible shuffles. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
