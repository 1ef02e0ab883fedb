/**
 * When a server bootstraps Raft (Consul's `maybeBootstrap`): with `-bootstrap` at once, alone; with
 * `-bootstrap-expect N` once N servers of its datacenter are known through gossip, every one of
 * them expecting N, none of them already part of a cluster. Every server that reaches the same
 * set computes the same configuration (the sorted RPC addresses), so servers that start at the
 * same moment bootstrap the same cluster exactly once.
 */
export interface ServerInfo {
  readonly name: string;
  /** The server's RPC address "ip:port": its Raft ID in Praetor. */
  readonly raftAddr: string;
  readonly datacenter: string;
  /** Its `expect` tag (0 when absent). */
  readonly expect: number;
  /** Its `bootstrap` tag. */
  readonly bootstrap: boolean;
}

export type BootstrapDecision =
  | { readonly kind: "wait"; readonly reason: string }
  | { readonly kind: "refuse"; readonly reason: string }
  | { readonly kind: "bootstrap"; readonly voters: readonly string[] };

export function bootstrapDecision(self: ServerInfo, servers: readonly ServerInfo[]): BootstrapDecision {
  if (self.bootstrap) return { kind: "bootstrap", voters: [self.raftAddr] };
  if (self.expect === 0) return { kind: "wait", reason: "neither -bootstrap nor -bootstrap-expect: waiting to be added by a leader" };
  const peers = new Map<string, ServerInfo>();
  for (const server of [self, ...servers]) if (server.datacenter === self.datacenter) peers.set(server.raftAddr, server);
  for (const server of peers.values()) {
    if (server.bootstrap) return { kind: "refuse", reason: `server ${server.name} runs with -bootstrap: not bootstrapping beside it` };
    if (server.expect !== 0 && server.expect !== self.expect) {
      return { kind: "refuse", reason: `server ${server.name} expects ${server.expect} servers, this one ${self.expect}: fix -bootstrap-expect` };
    }
  }
  if (peers.size < self.expect) return { kind: "wait", reason: `${peers.size} of ${self.expect} expected servers known` };
  return { kind: "bootstrap", voters: [...peers.keys()].sort() };
}
