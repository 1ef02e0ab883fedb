import { assert } from "../util/assert.ts";
import type { ConfChange, ConfState, Entry, Index, NodeId } from "./types.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });
const confChangeTypes: ReadonlySet<string> = new Set(["addVoter", "addLearner", "promote", "remove"]);

export const emptyConf: ConfState = { voters: [], learners: [] };

/**
 * A "config" entry's data: the change and the whole configuration it produces (as hashicorp/raft
 * logs whole configurations), so a server that joins with an empty log learns every member from
 * the first config entry it receives. JSON, so logs stay readable.
 */
export interface ConfEntry {
  readonly change: ConfChange;
  readonly conf: ConfState;
}

export function encodeConfEntry(change: ConfChange, conf: ConfState): Uint8Array {
  return encoder.encode(JSON.stringify({ type: change.type, node: change.node, voters: conf.voters, learners: conf.learners }));
}

/** Null when the bytes are not a config entry (a malformed message, never a crash). */
export function decodeConfEntry(data: Uint8Array): ConfEntry | null {
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(data));
  } catch {
    return null;
  }
  if (typeof value !== "object" || value === null) return null;
  const { type, node, voters, learners } = value as { type?: unknown; node?: unknown; voters?: unknown; learners?: unknown };
  if (typeof type !== "string" || !confChangeTypes.has(type)) return null;
  if (typeof node !== "string" || node.length === 0) return null;
  if (!isIdList(voters) || !isIdList(learners)) return null;
  return { change: { type, node } as ConfChange, conf: canonicalConf(voters, learners) };
}

/** The change a config entry carries, or null when it does not decode. */
export function decodeConfChange(data: Uint8Array): ConfChange | null {
  return decodeConfEntry(data)?.change ?? null;
}

function isIdList(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((id) => typeof id === "string" && id.length > 0);
}

/** Why a change cannot be proposed against `conf`, or null when it can. */
export function checkConfChange(conf: ConfState, cc: ConfChange): string | null {
  const isVoter = conf.voters.includes(cc.node);
  const isLearner = conf.learners.includes(cc.node);
  switch (cc.type) {
    case "addVoter": return isVoter ? `${cc.node} is already a voter` : null;
    case "addLearner": return isVoter || isLearner ? `${cc.node} is already a member` : null;
    case "promote": return isLearner ? null : `${cc.node} is not a learner`;
    case "remove":
      if (!isVoter && !isLearner) return `${cc.node} is not a member`;
      return isVoter && conf.voters.length === 1 ? `cannot remove the last voter ${cc.node}` : null;
  }
}

/**
 * The configuration after `cc`. Total, because every server applies whatever the log holds:
 * a change that does not fit is a no-op (the leader refuses to propose those).
 */
export function applyConfChange(conf: ConfState, cc: ConfChange): ConfState {
  const voters = conf.voters.filter((id) => id !== cc.node);
  const learners = conf.learners.filter((id) => id !== cc.node);
  const wasMember = voters.length !== conf.voters.length || learners.length !== conf.learners.length;
  switch (cc.type) {
    case "addVoter": return canonicalConf([...voters, cc.node], learners);
    case "addLearner": return conf.voters.includes(cc.node) ? conf : canonicalConf(voters, [...learners, cc.node]);
    case "promote": return conf.learners.includes(cc.node) ? canonicalConf([...voters, cc.node], learners) : conf;
    case "remove": return wasMember && !(conf.voters.length === 1 && conf.voters[0] === cc.node) ? canonicalConf(voters, learners) : conf;
  }
}

export function canonicalConf(voters: readonly NodeId[], learners: readonly NodeId[]): ConfState {
  return { voters: [...new Set(voters)].sort(), learners: [...new Set(learners)].sort() };
}

export function isMember(conf: ConfState, id: NodeId): boolean {
  return conf.voters.includes(id) || conf.learners.includes(id);
}

interface ConfAt {
  readonly index: Index;
  readonly conf: ConfState;
}

/**
 * The configuration history of the log beyond the snapshot. A configuration takes effect when its
 * entry is appended (Raft dissertation §4.1), so `current()` is the newest one in the log, and a
 * truncated config entry takes its configuration with it.
 *
 * Invariant: indexes strictly increase; base.index <= every change's index.
 */
export class ConfTracker {
  private base: ConfAt;
  private readonly changes: ConfAt[] = [];

  constructor(baseIndex: Index, baseConf: ConfState) {
    this.base = { index: baseIndex, conf: canonicalConf(baseConf.voters, baseConf.learners) };
  }

  current(): ConfState {
    return (this.changes[this.changes.length - 1] ?? this.base).conf;
  }

  /** The configuration in force at `index` (the newest change at or before it). */
  at(index: Index): ConfState {
    assert(index >= this.base.index, `conf at ${index} before base ${this.base.index}`);
    let conf = this.base.conf;
    for (const change of this.changes) {
      if (change.index > index) break;
      conf = change.conf;
    }
    return conf;
  }

  /** Index of the newest config entry (0 when none beyond the base). */
  lastChangeIndex(): Index {
    return this.changes[this.changes.length - 1]?.index ?? this.base.index;
  }

  onAppend(entry: Entry): void {
    if (entry.type !== "config") return;
    const decoded = decodeConfEntry(entry.data);
    assert(decoded !== null, `config entry ${entry.index} (term ${entry.term}) does not decode`);
    assert(entry.index > this.lastChangeIndex(), `config entry ${entry.index} not after ${this.lastChangeIndex()}`);
    this.changes.push({ index: entry.index, conf: decoded.conf });
  }

  /** Entries from `index` on were removed from the log. */
  truncateFrom(index: Index): void {
    assert(index > this.base.index, `truncate conf history at ${index} <= base ${this.base.index}`);
    while ((this.changes[this.changes.length - 1]?.index ?? 0) >= index) this.changes.pop();
  }

  /** The log prefix up to `index` became a snapshot. */
  compact(index: Index): void {
    const conf = this.at(index);
    while (this.changes.length > 0 && this.changes[0]!.index <= index) this.changes.shift();
    this.base = { index, conf };
  }

  /** The log was replaced by a snapshot at `index` carrying `conf`. */
  restore(index: Index, conf: ConfState): void {
    this.changes.length = 0;
    this.base = { index, conf: canonicalConf(conf.voters, conf.learners) };
  }
}
