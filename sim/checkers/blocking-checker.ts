/**
 * Blocking queries judged from the clients' side (issue 14). A client runs one query as a
 * stream: it passes back the index of its last answer with a `wait`, as Consul clients do
 * (`?index=N&wait=W`), and the checker sees every answer with its timing:
 *
 *   - spin: an answer that came back before the wait ran out with the index the client passed
 *     and the same content: the query was answered twice with the same index and no change, so
 *     a client looping on it spins;
 *   - missed wake: an answer that came back only because the wait ran out, with content
 *     different from the last answer: a write in the query's scope did not wake the waiter;
 *   - hidden change: content different from the last answer under the same index;
 *   - regression: an index lower than one the stream already saw, whatever server answered —
 *     across leader changes, lagging servers and snapshot restores (the queries are
 *     consistent reads, so this holds for every correct server).
 *
 * Everything is judged on what the client got, never on the server's state.
 */
import { SafetyViolation } from "./raft-safety.ts";

export interface BlockingAnswer {
  /** The index the client passed (0: the stream's first call, answered at once). */
  readonly passedIndex: number;
  readonly waitMs: number;
  readonly callMs: number;
  readonly returnMs: number;
  readonly index: number;
  /** The answer's content, as comparable text. */
  readonly print: string;
  /** Which server answered. */
  readonly server: string;
  /**
   * How the server answered, as it tells the client (a simulator-only header: the wait starts
   * only after the server's read barrier, so the client's clock alone cannot tell a wake near
   * the end of the wait from a timeout): at once, woken by a write, or when the wait ran out.
   */
  readonly how: "immediate" | "woken" | "timeout";
}

interface Stream {
  readonly query: string;
  lastIndex: number;
  lastPrint: string | null;
  answers: number;
}

export class BlockingChecker {
  private readonly streams = new Map<string, Stream>();
  answers = 0;
  /** Answers that came back early with a moved index (a write woke the waiter). */
  wakes = 0;
  /** Answers that came back when the wait ran out. */
  timeouts = 0;

  /** Starts (or restarts) a stream; its next call passes index 0. */
  open(streamId: string, query: string): void {
    this.streams.set(streamId, { query, lastIndex: 0, lastPrint: null, answers: 0 });
  }

  onAnswer(streamId: string, answer: BlockingAnswer): void {
    const stream = this.streams.get(streamId);
    if (stream === undefined) throw new Error(`blocking checker: unknown stream ${streamId}`);
    this.answers++;
    stream.answers++;
    // "blocking query <kind>: <query> (...)": the simulator names a violation by its first clause.
    const where = (kind: string) => `blocking query ${kind}: ${stream.query} (stream ${streamId}, answer ${stream.answers} from ${answer.server}, ` +
      `called at ${answer.callMs} ms with index ${answer.passedIndex} and wait ${answer.waitMs} ms, answered at ${answer.returnMs} ms)`;
    if (answer.index < stream.lastIndex) {
      throw new SafetyViolation(`${where("index regression")}: index went back from ${stream.lastIndex} to ${answer.index}`);
    }
    const blocked = answer.passedIndex > 0;
    const changed = stream.lastPrint !== null && answer.print !== stream.lastPrint;
    if (blocked && answer.how !== "timeout" && answer.index <= answer.passedIndex && !changed) {
      throw new SafetyViolation(`${where("spin")}: answered twice with the same index ${answer.index} and no change before the wait ran out (the client would spin)`);
    }
    if (changed && answer.index === stream.lastIndex) {
      throw new SafetyViolation(`${where("hidden change")}: the answer changed under the same index ${answer.index}`);
    }
    if (blocked && answer.how === "timeout" && changed) {
      throw new SafetyViolation(`${where("missed wake")}: the answer changed during the wait (index ${answer.passedIndex} -> ${answer.index}) but the waiter was not woken`);
    }
    if (answer.how === "woken") this.wakes++;
    if (answer.how === "timeout") this.timeouts++;
    // A stream may pass back only what it was last answered, as clients do.
    if (answer.passedIndex !== stream.lastIndex) {
      throw new Error(`blocking checker: stream ${streamId} passed ${answer.passedIndex}, last answered ${stream.lastIndex}`);
    }
    stream.lastIndex = answer.index;
    stream.lastPrint = answer.print;
  }

  /** The index the stream passes on its next call. */
  nextIndex(streamId: string): number {
    return this.streams.get(streamId)?.lastIndex ?? 0;
  }
}
