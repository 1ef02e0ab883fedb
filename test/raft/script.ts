/**
 * Interaction scripts (etcd raft's `testdata/` style): a text file of commands, each followed by
 * `----` and the output it must produce, replayed against the in-memory harness. Run with
 * RAFT_SCRIPT_REWRITE=1 to regenerate the outputs after reviewing a behaviour change.
 *
 *   cluster n1 n2 n3 seed=7     start a cluster (all voters)
 *   elect [id]                  tick until a leader (optionally transfer to id)
 *   tick N                      tick every running node N times, delivering after each
 *   propose VALUE               propose to the leader and settle
 *   propose-on ID VALUE         propose on a given node (perhaps a deposed leader)
 *   isolate ID | heal | cut A B crash ID | restart ID | compact ID
 *   read ID MODE CTX            issue a read on a node; `reads ID` prints its ReadStates
 *   transfer ID                 ask the leader to hand over to ID and settle
 *   status [ID...]              one line per node; `log ID` prints term/index of its entries
 *   trace on|off                print the messages delivered by the following commands
 */
import { readFileSync, writeFileSync } from "node:fs";
import { Harness } from "./harness.ts";

interface Block {
  /** Comment lines (`# ...`) before the command, kept by --rewrite. */
  readonly comments: readonly string[];
  readonly command: string;
  readonly expected: string;
}

export function parseScript(source: string): Block[] {
  const blocks: Block[] = [];
  const lines = source.split("\n");
  let comments: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === "") continue;
    if (line.startsWith("#")) {
      comments.push(line);
      continue;
    }
    if (lines[i + 1]?.trim() !== "----") throw new Error(`line ${i + 2}: expected ---- after "${line}"`);
    const output: string[] = [];
    let j = i + 2;
    while (j < lines.length && lines[j]!.trim() !== "") output.push(lines[j++]!);
    blocks.push({ comments, command: line, expected: output.join("\n") });
    comments = [];
    i = j;
  }
  return blocks;
}

export class ScriptRunner {
  private cluster: Harness | null = null;
  private tracing = false;

  run(command: string): string {
    const [verb, ...args] = command.split(/\s+/) as [string, ...string[]];
    const before = this.cluster?.delivered.length ?? 0;
    const out = this.perform(verb, args);
    const trace = this.tracing && this.cluster !== null ? this.cluster.delivered.slice(before) : [];
    return [...trace, ...(out === "" ? [] : [out])].join("\n") || "ok";
  }

  private get c(): Harness {
    if (this.cluster === null) throw new Error("no cluster: start with `cluster`");
    return this.cluster;
  }

  private perform(verb: string, args: string[]): string {
    switch (verb) {
      case "cluster": {
        const seed = Number(args.find((a) => a.startsWith("seed="))?.slice(5) ?? 1);
        this.cluster = new Harness(args.filter((a) => !a.includes("=")), { seed });
        return "";
      }
      case "elect": {
        const leader = args[0] === undefined ? this.c.electLeader() : this.c.electLeaderNamed(args[0]);
        return `leader ${leader.id} term ${leader.status().term}`;
      }
      case "tick": this.c.tick(Number(args[0] ?? 1)); return "";
      case "propose": {
        const index = this.c.propose(args.join(" "));
        return `index ${index}`;
      }
      case "propose-on": {
        const result = this.c.node(args[0]!).propose(new TextEncoder().encode(args.slice(1).join(" ")));
        this.c.settle();
        return result.ok ? `index ${result.index} term ${result.term}` : `refused ${result.reason}`;
      }
      case "isolate": this.c.isolate(args[0]!); return "";
      case "cut": this.c.cutLink(args[0]!, args[1]!); return "";
      case "heal": this.c.heal(); return "";
      case "crash": this.c.crash(args[0]!); return "";
      case "restart": this.c.start(args[0]!); return "";
      case "compact": return `snapshot at ${this.c.compact(args[0]!).meta.index}`;
      case "read": {
        const result = this.c.node(args[0]!).readIndex(args[2]!, args[1] as "readIndex" | "lease");
        this.c.settle();
        return result.ok ? "" : `refused ${result.reason}`;
      }
      case "reads": return this.c.reads.get(args[0]!)!.map((r) => `${r.ctx}@${r.index}`).join(" ") || "none";
      case "transfer": this.c.leader()!.transferLeadership(args[0]!); this.c.settle(); return "";
      case "status": return this.status(args);
      case "log": return this.c.disks.get(args[0]!)!.entries.map((e) => `${e.term}/${e.index}`).join(" ") || "empty";
      case "trace": this.tracing = args[0] === "on"; return "";
      default: throw new Error(`unknown command ${verb}`);
    }
  }

  private status(ids: string[]): string {
    const nodes = ids.length === 0 ? [...this.c.nodes.values()] : ids.map((id) => this.c.node(id));
    return nodes.map((n) => {
      const s = n.status();
      return `${s.id} ${s.role} term=${s.term} leader=${s.leader ?? "-"} commit=${s.commit} applied=${s.applied} last=${s.lastIndex} first=${s.firstIndex}`;
    }).join("\n");
  }
}

/** Replays `path`; returns the mismatches (or rewrites the file when asked and returns none). */
export function replayScript(path: string, rewrite: boolean): string[] {
  const blocks = parseScript(readFileSync(path, "utf8"));
  const runner = new ScriptRunner();
  const problems: string[] = [];
  const rewritten: string[] = [];
  for (const block of blocks) {
    const actual = runner.run(block.command);
    rewritten.push([...block.comments, block.command, "----", actual, ""].join("\n"));
    if (actual !== block.expected) problems.push(`${block.command}\n  expected:\n${block.expected}\n  actual:\n${actual}`);
  }
  if (rewrite) {
    writeFileSync(path, rewritten.join("\n"));
    return [];
  }
  return problems;
}
