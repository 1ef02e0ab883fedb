import { decodeConfEntry } from "./confchange.ts";
import type { Entry, Message, MessageType, NodeId, Snapshot } from "./types.ts";

const messageTypes: ReadonlySet<string> = new Set<MessageType>([
  "preVote", "preVoteResp", "vote", "voteResp", "append", "appendResp", "snapshot",
  "heartbeat", "heartbeatResp", "timeoutNow", "readIndex", "readIndexResp",
]);

const entryTypes: ReadonlySet<string> = new Set(["normal", "config", "noop"]);

const isIndex = (value: unknown): value is number => typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
const isOptionalIndex = (value: unknown) => value === undefined || isIndex(value);
const isNodeId = (value: unknown): value is NodeId => typeof value === "string" && value.length > 0;

/** Fields each message type must carry beyond the common ones. */
const required: Partial<Record<MessageType, readonly (keyof Message)[]>> = {
  preVote: ["index", "logTerm"],
  vote: ["index", "logTerm"],
  append: ["index", "logTerm", "commit", "entries"],
  appendResp: ["index"],
  snapshot: ["snapshot"],
  heartbeat: ["commit"],
  readIndex: ["ctx"],
  readIndexResp: ["index", "ctx"],
};

/**
 * Why a received message is malformed, or null when it is well-formed. Malformed messages are
 * dropped and counted; the network never makes a node throw.
 */
export function messageProblem(m: Message, self: NodeId): string | null {
  if (typeof m !== "object" || m === null) return "not an object";
  if (!messageTypes.has(m.type)) return `unknown type ${String(m.type)}`;
  if (!isNodeId(m.from) || !isNodeId(m.to)) return "from/to not node ids";
  if (m.to !== self) return `addressed to ${m.to}`;
  if (m.from === self) return "from self";
  if (!isIndex(m.term)) return `bad term ${String(m.term)}`;
  for (const field of ["index", "logTerm", "commit", "rejectHint", "rejectHintTerm"] as const) {
    if (!isOptionalIndex(m[field])) return `bad ${field}`;
  }
  for (const field of required[m.type] ?? []) {
    if (m[field] === undefined) return `${m.type} without ${field}`;
  }
  if (m.ctx !== undefined && typeof m.ctx !== "string") return "ctx not a string";
  if (m.readMode !== undefined && m.readMode !== "readIndex" && m.readMode !== "lease") return "bad readMode";
  if (m.type === "append") return entriesProblem(m);
  if (m.type === "snapshot") return snapshotProblem(m.snapshot);
  return null;
}

function entriesProblem(m: Message): string | null {
  if (!Array.isArray(m.entries)) return "entries not an array";
  let previousTerm = m.logTerm!;
  for (const [i, entry] of (m.entries as readonly Entry[]).entries()) {
    if (typeof entry !== "object" || entry === null) return `entry ${i} not an object`;
    if (entry.index !== m.index! + 1 + i) return `entry ${i} index ${String(entry.index)} not consecutive`;
    if (!isIndex(entry.term) || entry.term < previousTerm || entry.term > m.term) return `entry ${i} bad term ${String(entry.term)}`;
    if (!entryTypes.has(entry.type)) return `entry ${i} bad type`;
    if (!(entry.data instanceof Uint8Array)) return `entry ${i} data not bytes`;
    if (entry.type === "config" && decodeConfEntry(entry.data) === null) return `entry ${i} config does not decode`;
    previousTerm = entry.term;
  }
  return null;
}

function snapshotProblem(s: Snapshot | undefined): string | null {
  if (typeof s !== "object" || s === null || typeof s.meta !== "object" || s.meta === null) return "snapshot without meta";
  if (!isIndex(s.meta.index) || s.meta.index < 1 || !isIndex(s.meta.term) || s.meta.term < 1) return "snapshot bad index/term";
  const conf = s.meta.conf;
  if (typeof conf !== "object" || conf === null || !Array.isArray(conf.voters) || !Array.isArray(conf.learners)) return "snapshot bad conf";
  if (![...conf.voters, ...conf.learners].every(isNodeId)) return "snapshot conf ids";
  if (!(s.data instanceof Uint8Array)) return "snapshot data not bytes";
  return null;
}
