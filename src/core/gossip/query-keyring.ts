/**
 * The asking side of Serf's keyring queries (hashicorp/serf serf/keymanager.go handleKeyRequest and
 * streamKeyResp): the query to send for each operation, and the tally of the members' answers into
 * Serf's KeyResponse (keys with how many members hold each, primary keys, per-member messages),
 * done as soon as every member answered. Consul's /v1/operator/keyring reports these per pool.
 */
import { WireError } from "./wire/errors.ts";
import { decodeKeyResponse, encodeKeyRequest } from "./wire/serf-query-codec.ts";

export type KeyringOp = "list" | "install" | "use" | "remove";

const queryNames: Record<KeyringOp, string> = {
  list: "_serf_list-keys", install: "_serf_install-key", use: "_serf_use-key", remove: "_serf_remove-key",
};

/** The query name and payload of a keyring operation; `key` is raw bytes (empty to list). */
export function keyringQuery(op: KeyringOp, key: Uint8Array): { name: string; payload: Uint8Array } {
  if (op !== "list" && key.length === 0) throw new RangeError(`keyring ${op} needs a key`);
  return { name: queryNames[op], payload: encodeKeyRequest(key) };
}

export interface KeyringResult {
  /** Per member: its error, or a warning it sent with success (a truncated key list). */
  readonly messages: Readonly<Record<string, string>>;
  readonly keys: Readonly<Record<string, number>>;
  readonly primaryKeys: Readonly<Record<string, number>>;
  readonly numNodes: number;
  readonly numResp: number;
  readonly numErr: number;
}

export class KeyringTally {
  private readonly messages: Record<string, string> = {};
  private readonly keys: Record<string, number> = {};
  private readonly primaryKeys: Record<string, number> = {};
  private numResp = 0;
  private numErr = 0;

  /** `numNodes`: memberlist's NumMembers when the query was sent: the answers Serf waits for. */
  constructor(readonly numNodes: number) {}

  /** One member's answer (its query response payload). */
  add(from: string, payload: Uint8Array): void {
    this.numResp++;
    let r;
    try {
      r = decodeKeyResponse(payload);
    } catch (e) {
      if (!(e instanceof WireError)) throw e;
      this.messages[from] = `Invalid key query response: ${e.message}`;
      this.numErr++;
      return;
    }
    if (!r.Result) {
      this.messages[from] = r.Message;
      this.numErr++;
    } else if (r.Message.length > 0) {
      this.messages[from] = r.Message;
    }
    for (const k of r.Keys) this.keys[k] = (this.keys[k] ?? 0) + 1;
    // Serf counts the primary key of every answer, failures included (as the empty string); we count real ones.
    if (r.PrimaryKey !== "") this.primaryKeys[r.PrimaryKey] = (this.primaryKeys[r.PrimaryKey] ?? 0) + 1;
  }

  /** Every member answered: Serf stops waiting here rather than at the timeout. */
  get complete(): boolean {
    return this.numResp >= this.numNodes;
  }

  result(): KeyringResult {
    return {
      messages: { ...this.messages }, keys: { ...this.keys }, primaryKeys: { ...this.primaryKeys },
      numNodes: this.numNodes, numResp: this.numResp, numErr: this.numErr,
    };
  }

  /** Serf's verdict: null on success, else "N/M nodes reported failure" or "... success". */
  error(): string | null {
    if (this.numErr !== 0) return `${this.numErr}/${this.numNodes} nodes reported failure`;
    if (this.numResp !== this.numNodes) return `${this.numResp}/${this.numNodes} nodes reported success`;
    return null;
  }
}
