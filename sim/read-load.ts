import type { StateMachine } from "../src/agent/raft-host.ts";
import type { RaftCluster } from "./raft-cluster.ts";
import type { World } from "./world/world.ts";

/**
 * A read-heavy background load: every `periodMs` the current leader is asked for `perTick` reads,
 * alternating lease and ReadIndex. Their answers are not checked here (the workload's own reads
 * are, by linearizability); the load is what lets the step-down check see a healthy leader
 * deposed by its own read traffic (issue 14 defect 3).
 */
export class ReadLoad {
  private stopped = false;
  /** Bumped by every start, so a stopped run's pending burst does not go on after a restart. */
  private run = 0;
  issued = 0;
  answered = 0;

  constructor(
    private readonly world: World,
    private readonly cluster: RaftCluster<StateMachine<unknown>>,
    readonly perTick: number,
    private readonly periodMs: number,
  ) {}

  /** Start (or, after `stop`, start again). */
  start(): void {
    this.stopped = false;
    const run = ++this.run;
    if (this.perTick > 0) this.world.after(this.periodMs, () => this.burst(run));
  }

  stop(): void {
    this.stopped = true;
  }

  private burst(run: number): void {
    if (this.stopped || run !== this.run) return;
    const leader = this.cluster.leader();
    if (leader !== null) {
      this.cluster.withHost(leader.id, (host) => {
        for (let i = 0; i < this.perTick; i++) {
          this.issued++;
          host.read(i % 2 === 0 ? "lease" : "readIndex", (outcome) => {
            if (outcome.kind === "ready") this.answered++;
          });
        }
      });
    }
    this.world.after(this.periodMs, () => this.burst(run));
  }
}
