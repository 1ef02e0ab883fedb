/**
 * One real-socket gossip member, for trying Praetor's gossip by hand and for the Serf interop check:
 *   npm run gossip-node -- --name p1 --bind 127.0.0.1:18301 [--join HOST:PORT]... [--tag k=v]... [--encrypt KEY]...
 * Prints each membership change and user event as one JSON line on stdout; each stdin line
 * `event NAME PAYLOAD` sends a user event; SIGTERM or SIGINT leaves gracefully, then exits.
 */
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import type { GossipEvent, Member } from "../core/gossip/events.ts";
import type { MemberlistMessage } from "../core/gossip/messages.ts";
import { BoundGossipSockets, splitHostPort } from "../transports/gossip-bind.ts";

/**
 * The sockets are bound before anything else loads (the gossip core takes most of a
 * second on a busy machine), so a peer that dials us during start-up waits instead of being
 * refused. The address is read here directly; parseArgs then checks every argument as usual.
 */
function earlyBind(args: readonly string[]): Promise<BoundGossipSockets> | null {
  const i = args.findIndex((a) => a === "--bind" || a.startsWith("--bind="));
  const value = i < 0 ? undefined : args[i]!.startsWith("--bind=") ? args[i]!.slice("--bind=".length) : args[i + 1];
  if (value === undefined) return null;
  try {
    const { host, port } = splitHostPort(value);
    const bound = BoundGossipSockets.bind(host, port);
    bound.catch(() => {});
    return bound;
  } catch {
    return null;
  }
}
const earlyBound = earlyBind(process.argv.slice(2));

// Arguments by node's own parser: yargs cost a member 12 MB of RSS and 0.2 s of CPU at start-up.
const usage = `usage: gossip-node --name NAME --bind IP:PORT [--join HOST:PORT]... [--tag k=v]... [--encrypt KEY]... [--verbose]
  --name     member name, unique in the pool
  --bind     IP:PORT for UDP and TCP
  --join     HOST:PORT of a member to join (repeatable)
  --tag      k=v tag (repeatable)
  --encrypt  base64 gossip key (serf keygen); the first is primary, more are accepted (repeatable)
  --verbose  log every gossip message in and out on stderr
`;
function parseArguments(): { name: string; bind: string; join: string[]; tag: string[]; encrypt: string[]; verbose: boolean } {
  try {
    const { values } = parseArgs({
      options: {
        name: { type: "string" }, bind: { type: "string" }, join: { type: "string", multiple: true }, tag: { type: "string", multiple: true },
        encrypt: { type: "string", multiple: true }, verbose: { type: "boolean" }, help: { type: "boolean", short: "h" },
      },
      strict: true, allowPositionals: false,
    });
    if (values.help) {
      process.stdout.write(usage);
      process.exit(0);
    }
    if (values.name === undefined || values.bind === undefined) throw new Error(`missing required argument${values.name === undefined && values.bind === undefined ? "s: name, bind" : `: ${values.name === undefined ? "name" : "bind"}`}`);
    return { name: values.name, bind: values.bind, join: values.join ?? [], tag: values.tag ?? [], encrypt: values.encrypt ?? [], verbose: values.verbose ?? false };
  } catch (e) {
    process.stderr.write(`gossip-node: ${(e as Error).message}\n${usage}`);
    return process.exit(2);
  }
}
const argv = parseArguments();

// The gossip core loads once the arguments are known good.
const [{ startGossipMember }, { formatAddr }, { GossipKeyring }] = await Promise.all([
  import("../transports/gossip-member.ts"), import("../core/gossip/node.ts"), import("../transports/gossip-keyring.ts"),
]);

function parseTags(pairs: readonly string[]): Record<string, string> {
  const tags: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf("=");
    if (eq < 1) throw new Error(`--tag ${JSON.stringify(pair)}: want KEY=VALUE`);
    tags[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return tags;
}

const startMs = performance.now();

function trace(direction: "in" | "out", peer: string, via: string, msg: MemberlistMessage): void {
  const detail = msg.type === "user" ? `${msg.Msg.type}` : "SeqNo" in msg ? `seq=${msg.SeqNo}` : "Node" in msg ? msg.Node : "";
  const seconds = ((performance.now() - startMs) / 1000).toFixed(3);
  process.stderr.write(`${seconds}s ${direction === "in" ? "<-" : "->"} ${peer} ${via} ${msg.type} ${detail}\n`);
}

function print(line: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

function memberLine(type: string, m: Member): Record<string, unknown> {
  return { event: type, name: m.name, addr: formatAddr(m.addr, m.port), status: m.status, tags: m.tags };
}

function report(e: GossipEvent): void {
  if (e.type === "user-event") print({ event: "user-event", name: e.name, payload: new TextDecoder().decode(e.payload), lTime: e.lTime });
  else if (e.type === "join-complete") process.stderr.write(`joined through ${e.addr}\n`);
  else if (e.type === "join-failed") process.stderr.write(`join failed: no answer from ${e.addrs.join(", ")}\n`);
  else if (e.type === "query-warning") process.stderr.write(`${JSON.stringify({ level: "warn", msg: e.message })}\n`);
  else if (e.type === "query") print({ event: "query", name: e.name, payload: new TextDecoder().decode(e.payload), from: e.from, lTime: e.lTime });
  else if ("member" in e) print(memberLine(e.type, e.member));
}

async function start(): Promise<import("../transports/gossip-endpoint.ts").GossipEndpoint> {
  const tags = parseTags(argv.tag);
  const { host, port } = splitHostPort(argv.bind);
  // Bind before loading the gossip core, so a peer that dials us during start-up waits instead of being refused.
  const bound = (await earlyBound) ?? await BoundGossipSockets.bind(host, port);
  const keyring = argv.encrypt.length > 0 ? GossipKeyring.fromBase64(argv.encrypt[0]!, argv.encrypt.slice(1)) : undefined;
  // Drops, key mismatches and refused streams go to stderr, one JSON line each (rate-limited per reason).
  const logger = (level: string, msg: string, fields: Readonly<Record<string, unknown>>): void => {
    process.stderr.write(`${JSON.stringify({ level, msg, ...fields })}\n`);
  };
  return startGossipMember({
    name: argv.name, bind: argv.bind, tags, bound, logger, ...(keyring ? { keyring } : {}), ...(argv.verbose ? { trace } : {}),
  });
}

let member;
try {
  member = await start();
} catch (e) {
  process.stderr.write(`gossip-node: ${(e as Error).message}\n`);
  process.exit(2);
}
const endpoint = member;
endpoint.onEvent(report);
process.stderr.write(`gossip-node ${argv.name} listening on ${endpoint.localAddr}\n`);
if (argv.join.length > 0) endpoint.join(argv.join);

createInterface({ input: process.stdin }).on("line", (line) => {
  const match = /^event\s+(\S+)\s*(.*)$/.exec(line.trim());
  if (match === null) return void process.stderr.write(`ignored (want "event NAME PAYLOAD"): ${line}\n`);
  try {
    endpoint.userEvent(match[1]!, new TextEncoder().encode(match[2]!), false);
  } catch (e) {
    process.stderr.write(`event refused: ${(e as Error).message}\n`);
  }
});

let leaving = false;
async function leaveAndExit(signal: string): Promise<void> {
  if (leaving) return;
  leaving = true;
  process.stderr.write(`${signal}: leaving the pool\n`);
  await endpoint.leave();
  process.exit(0);
}
process.on("SIGTERM", () => void leaveAndExit("SIGTERM"));
process.on("SIGINT", () => void leaveAndExit("SIGINT"));
