/**
 * Fitting an answer into what the client can take, as Consul's trimUDPResponse/trimTCPResponse do:
 * over UDP without EDNS0 at most `udp_answer_limit` answers, then as many answers (with their glue)
 * as fit 512 bytes or the client's EDNS0 size; over TCP as many as fit 64 KiB. When a message
 * still does not fit, the optional sections go first, and a message with no room even for its
 * first answer goes out empty with TC set, so the client retries over TCP.
 */
import type { Answer } from "dns-packet";
import type { AnswerSlot } from "./records.ts";
import { recordBytes, responseBytes, tcpBytesMax, udpBytesDefault, udpLimitBytes, type Query, type ResponseParts } from "./wire.ts";

export interface Draft {
  readonly rcode: number;
  readonly answers: readonly AnswerSlot[];
  /** Glue by key: sent only for the answers kept. */
  readonly glue: ReadonlyMap<string, readonly Answer[]>;
  readonly authorities: readonly Answer[];
  /** Additional records that belong to the message as a whole (node meta TXT, NS glue). */
  readonly additionals: readonly Answer[];
  /** AA is set unless this says otherwise (REFUSED, a recursor's SERVFAIL). */
  readonly authoritative?: boolean;
}

export interface FitOptions {
  readonly transport: "udp" | "tcp";
  readonly udpAnswerLimit: number;
  readonly enableTruncate: boolean;
  readonly recursionAvailable: boolean;
}

export interface Fitted {
  readonly parts: ResponseParts;
  /** Answers dropped to fit (0 when the answer went out whole). */
  readonly droppedAnswers: number;
}

function glueFor(slots: readonly AnswerSlot[], glue: ReadonlyMap<string, readonly Answer[]>): Answer[] {
  const out: Answer[] = [];
  const seen = new Set<string>();
  for (const slot of slots) {
    if (slot.glueKey === null || seen.has(slot.glueKey)) continue;
    seen.add(slot.glueKey);
    out.push(...(glue.get(slot.glueKey) ?? []));
  }
  return out;
}

/** How many leading answers (with their glue) fit in `roomBytes`. */
function answersThatFit(slots: readonly AnswerSlot[], glue: ReadonlyMap<string, readonly Answer[]>, roomBytes: number, withGlue: boolean): number {
  let used = 0;
  const seen = new Set<string>();
  for (let i = 0; i < slots.length; i++) {
    const slot = slots[i]!;
    used += recordBytes(slot.record);
    if (withGlue && slot.glueKey !== null && !seen.has(slot.glueKey)) {
      seen.add(slot.glueKey);
      for (const record of glue.get(slot.glueKey) ?? []) used += recordBytes(record);
    }
    if (used > roomBytes) return i;
  }
  return slots.length;
}

export function fitResponse(query: Query, draft: Draft, options: FitOptions): Fitted {
  const limitBytes = options.transport === "udp" ? udpLimitBytes(query) : tcpBytesMax;
  let slots = draft.answers;
  // Consul limits the number of answers only for clients that did not raise the 512-byte limit.
  if (options.transport === "udp" && limitBytes === udpBytesDefault && slots.length > options.udpAnswerLimit) {
    slots = slots.slice(0, options.udpAnswerLimit);
  }
  const frame = (answers: readonly AnswerSlot[], authorities: readonly Answer[], additionals: readonly Answer[], withGlue: boolean, truncated: boolean): ResponseParts => ({
    rcode: draft.rcode, authoritative: draft.authoritative ?? true, recursionAvailable: options.recursionAvailable, truncated,
    answers: answers.map((slot) => slot.record), authorities,
    additionals: withGlue ? [...glueFor(answers, draft.glue), ...additionals] : [...additionals],
  });
  // The common case: the whole answer fits, and no per-record accounting is needed.
  if (slots.length === draft.answers.length) {
    const whole = frame(slots, draft.authorities, draft.additionals, true, false);
    if (responseBytes(query, whole) <= limitBytes) return { parts: whole, droppedAnswers: 0 };
  }
  const dropped = (kept: number): number => draft.answers.length - kept;
  const flagTc = (kept: number): boolean => options.transport === "udp" && options.enableTruncate && dropped(kept) > 0;

  // Whole, then without the authority section, then without the message-wide additionals.
  const attempts: [readonly Answer[], readonly Answer[]][] = [
    [draft.authorities, draft.additionals],
    [[], draft.additionals],
    [[], []],
  ];
  for (const [authorities, additionals] of attempts) {
    const base = responseBytes(query, frame([], authorities, additionals, false, false));
    if (base > limitBytes) continue;
    const kept = answersThatFit(slots, draft.glue, limitBytes - base, true);
    if (kept === slots.length || kept >= 1) {
      const answers = slots.slice(0, kept);
      return { parts: frame(answers, authorities, additionals, true, flagTc(answers.length)), droppedAnswers: dropped(answers.length) };
    }
    // Not even the first answer with its glue: try it bare.
    if (slots.length > 0 && answersThatFit(slots, draft.glue, limitBytes - base, false) >= 1) {
      const answers = slots.slice(0, 1);
      return { parts: frame(answers, authorities, additionals, false, flagTc(1)), droppedAnswers: dropped(1) };
    }
  }
  // Nothing useful fits: an empty answer with TC tells the client to ask over TCP.
  return { parts: frame([], [], [], false, true), droppedAnswers: draft.answers.length };
}
