import type { Message, NodeId, RaftConfig } from "../src/core/raft/types.ts";
import { RaftNode, defaultRaftConfig } from "../src/core/raft/node.ts";
import type { NodeDisk, NodeFactory } from "./raft-cluster.ts";
import { WalStorage } from "../src/storage/wal-storage.ts";
import { DiskCrashedError, SimDisk } from "./disk.ts";
import { MemRaftStorage } from "./storage/mem-storage.ts";
import { CrashPointStorage } from "./crash-points.ts";
import type { WorldRng } from "./world/rng.ts";

/** The production core, as the simulator runs it unless a test swaps in a mutant. */
export const defaultNodeFactory: NodeFactory = (config, persisted, rng) => new RaftNode(config, persisted, rng);

/**
 * hashicorp/raft's LAN timing, the production defaults, so the simulator tests the timing that
 * ships; the batching and flow-control limits and the election options are drawn per seed (swarm
 * testing): tiny batches make follower logs lag entry by entry, which is where commit-rule bugs
 * (Figure 8) hide.
 */
export function drawRaftLimits(rng: WorldRng): Pick<RaftConfig, "maxEntriesPerMsg" | "maxInflightMsgs" | "preVote" | "checkQuorum"> {
  return {
    maxEntriesPerMsg: rng.pick([1, 1, 2, 4, 16, 64]), maxInflightMsgs: rng.pick([1, 2, 8, 256]),
    // Pre-vote and check-quorum are on by default and mask whole classes of bugs (split votes,
    // deposed leaders that linger); a quarter of seeds each run without them, as a cluster
    // configured that way would, so the protocol underneath is tested too.
    preVote: !rng.chance(0.25), checkQuorum: !rng.chance(0.25),
  };
}

export function simRaftConfig(id: NodeId, limits: Partial<RaftConfig> = {}): RaftConfig {
  return defaultRaftConfig(id, limits);
}

/**
 * A node's disk for the seed: the write-ahead log over a simulated disk that keeps only synced
 * bytes across a crash. A write cut by a failed sync is torn (a prefix survives) or corrupted
 * (a bit flips) or lost, and recovery must notice by checksum.
 */
export function makeSimDisk(rng: WorldRng): NodeDisk {
  const disk = new SimDisk();
  const storage = new CrashPointStorage(new WalStorage(disk));
  return {
    storage,
    crash: () => void disk.crash(rng, { tornWriteProbability: 0.4, corruptWriteProbability: 0.4 }),
    failSyncAfter: (syncs) => disk.failSyncAfter(syncs),
    // An asynchronous save's failure reaches the guard wrapped by the host, with the disk's error as its cause.
    isCrash: (error) => error instanceof DiskCrashedError || (error instanceof Error && error.cause instanceof DiskCrashedError),
    armAfterPersist: (saves, entriesOnly) => storage.armAfterPersist(saves, entriesOnly),
    delaySyncs: (delay) => {
      disk.syncDelay = delay;
      storage.enableAsyncSaves();
    },
  };
}

/** The in-memory storage, where every save is durable at once (faster; no disk faults). */
export function makeMemDisk(): NodeDisk {
  const storage = new CrashPointStorage(new MemRaftStorage());
  return { storage, crash: () => {}, failSyncAfter: () => {}, isCrash: () => false, armAfterPersist: (saves, entriesOnly) => storage.armAfterPersist(saves, entriesOnly) };
}

/** One deterministic line per message, for traces: `n1->n2 append t=2 i=10/2 n=3 c=9`. */
export function describeMessage(m: Message): string {
  let s = `${m.from}->${m.to} ${m.type} t=${m.term}`;
  if (m.index !== undefined) s += ` i=${m.index}/${m.logTerm ?? "-"}`;
  if (m.entries !== undefined && m.entries.length > 0) s += ` n=${m.entries.length}`;
  if (m.commit !== undefined) s += ` c=${m.commit}`;
  if (m.snapshot !== undefined) s += ` snap=${m.snapshot.meta.index}/${m.snapshot.meta.term}`;
  if (m.reject === true) s += ` reject hint=${m.rejectHint ?? "-"}`;
  if (m.ctx !== undefined) s += ` ctx=${m.ctx}`;
  return s;
}
