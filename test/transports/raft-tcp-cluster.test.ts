/**
 * A real three-server Raft cluster over the TCP transport: RaftHosts with in-memory storage,
 * ticked by real timers (10 ms ticks, a 300 ms heartbeat timeout), each server's NodeId its RPC
 * address. The script: elect a leader and commit proposals on every server; kill the leader, the
 * other two elect a new one and keep committing (and compact their logs); the old leader comes
 * back on the same port from its storage and catches up through a snapshot sent over TCP.
 */
import test from "ava";
import { RaftHost, defaultRaftHostConfig, type ProposeOutcome, type StateMachine } from "../../src/agent/raft-host.ts";
import { RaftNode, defaultRaftConfig } from "../../src/core/raft/node.ts";
import type { Entry, NodeId, Snapshot } from "../../src/core/raft/types.ts";
import { mulberry32 } from "../../src/core/util/rng.ts";
import { RaftTcpTransport } from "../../src/transports/rpc/raft-transport.ts";
import { RpcServer } from "../../src/transports/rpc/server.ts";
import { MemRaftStorage } from "../../sim/storage/mem-storage.ts";
import { eventually } from "./rpc-helpers.ts";

const tickMs = 10;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The state machine: the list of commands applied, in order. */
class ListMachine implements StateMachine<number> {
  items: string[] = [];
  apply(entry: Entry): number {
    this.items.push(decoder.decode(entry.data));
    return this.items.length;
  }
  snapshot(): Uint8Array {
    return encoder.encode(JSON.stringify(this.items));
  }
  restore(data: Uint8Array): void {
    this.items = JSON.parse(decoder.decode(data)) as string[];
  }
}

interface Server {
  readonly id: NodeId;
  readonly port: number;
  readonly storage: MemRaftStorage;
  readonly machine: ListMachine;
  readonly host: RaftHost<number>;
  readonly transport: RaftTcpTransport;
  readonly snapshotsReceived: Snapshot[];
  stop(): Promise<void>;
}

async function bind(port: number): Promise<RpcServer> {
  return RpcServer.listen({ host: "127.0.0.1", port });
}

function start(rpc: RpcServer, voters: readonly NodeId[], storage: MemRaftStorage, seed: number): Server {
  const id = rpc.addr;
  const transport = new RaftTcpTransport({ server: rpc, localAddr: id, closeServer: true, backoff: { baseMs: 10, capMs: 200 } });
  const machine = new ListMachine();
  const snapshotsReceived: Snapshot[] = [];
  const config = defaultRaftConfig(id, {
    tickMs, heartbeatTimeoutMs: 300, electionTimeoutMs: 300, leaderLeaseTimeoutMs: 150, heartbeatIntervalMs: 30,
  });
  const host = new RaftHost<number>(
    storage, transport, machine,
    (persisted) => new RaftNode(config, { ...persisted, initialConf: persisted.initialConf ?? { voters: [...voters], learners: [] } }, mulberry32(seed)),
    defaultRaftHostConfig({ snapshotEveryEntries: 64, requestTimeoutTicks: 300 }),
    { onPersisted: (update) => update.snapshot !== undefined && snapshotsReceived.push(update.snapshot) },
  );
  const ticker = setInterval(() => host.tick(), tickMs);
  let stopped = false;
  return {
    id, port: rpc.port, storage, machine, host, transport, snapshotsReceived,
    async stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(ticker);
      host.stop();
      await transport.close();
    },
  };
}

function leaderOf(servers: readonly Server[]): Server | undefined {
  const leaders = servers.filter((s) => s.host.node.status().role === "leader");
  if (leaders.length !== 1) return undefined;
  const leader = leaders[0]!;
  return servers.every((s) => s.host.node.status().leader === leader.id) ? leader : undefined;
}

const propose = (server: Server, command: string) =>
  new Promise<ProposeOutcome<number>>((resolve) => server.host.propose(encoder.encode(command), resolve));

async function commitAll(leader: Server, commands: readonly string[]): Promise<string[]> {
  const outcomes = await Promise.all(commands.map((c) => propose(leader, c)));
  return outcomes.map((o) => o.kind);
}

test.serial("three RaftHosts over TCP elect a leader, commit, fail over, and a restarted server catches up by snapshot", async (t) => {
  const rpcs = await Promise.all([bind(0), bind(0), bind(0)]);
  const voters = rpcs.map((r) => r.addr);
  const storages = voters.map(() => new MemRaftStorage());
  let servers = rpcs.map((rpc, i) => start(rpc, voters, storages[i]!, 11 + i));
  t.teardown(() => Promise.all(servers.map((s) => s.stop())));

  const started = Date.now();
  const first = await eventually(() => leaderOf(servers), "one leader all three agree on", 10_000);
  t.log(`first leader ${first.id} after ${Date.now() - started} ms`);

  const batch1 = Array.from({ length: 100 }, (_, i) => `a${i}`);
  t.deepEqual(await commitAll(first, batch1), batch1.map(() => "applied"));
  await eventually(() => servers.every((s) => s.machine.items.length === 100), "every server to apply the first 100");
  for (const s of servers) t.deepEqual(s.machine.items, batch1, `${s.id} applied the same commands in the same order`);

  // Kill the leader: its timers stop and its port closes. The other two elect a new leader.
  await first.stop();
  const survivors = servers.filter((s) => s !== first);
  const failedAt = Date.now();
  const second = await eventually(() => leaderOf(survivors), "a new leader among the survivors", 10_000);
  t.log(`new leader ${second.id} after ${Date.now() - failedAt} ms`);
  t.not(second.id, first.id);

  const batch2 = Array.from({ length: 150 }, (_, i) => `b${i}`);
  t.deepEqual(await commitAll(second, batch2), batch2.map(() => "applied"));
  t.true(second.storage.load().snapshot !== null, "the new leader compacted its log past where the old leader stopped");

  // The old leader returns on the same port with what it had on disk.
  const index = servers.indexOf(first);
  const restarted = start(await bind(first.port), voters, storages[index]!, 99);
  servers = servers.map((s) => (s === first ? restarted : s));
  const everything = [...batch1, ...batch2];
  await eventually(() => restarted.machine.items.length === everything.length, "the restarted server to catch up", 10_000);
  t.deepEqual(restarted.machine.items, everything);
  t.true(restarted.snapshotsReceived.length >= 1, "it caught up through a snapshot sent over TCP");
  const third = await eventually(() => leaderOf(servers), "all three to agree on a leader");
  t.is(third.id, second.id, "the restarted server did not disturb the leader (pre-vote)");

  // And the cluster of three still commits.
  t.deepEqual(await commitAll(second, ["c0", "c1"]), ["applied", "applied"]);
  await eventually(() => servers.every((s) => s.machine.items.length === everything.length + 2), "all three to apply the last two");
  for (const s of servers) t.is(s.transport.counters.rejectedStreams, 0, `${s.id} rejected no stream`);
});
