/**
 * Fitting an answer into what the client can take, as Consul's trimUDPResponse/trimTCPResponse do:
 * over UDP without EDNS0 at most `udp_answer_limit` answers, then as many answers (with their glue)
 * as fit 512 bytes or the client's EDNS0 size; over TCP as many as fit 64 KiB. When a message
 * still does not fit, the optional sections go first, and a message with no room even for its
 * first answer goes out empty with TC set, so the client retries over TCP.
 */
import type { Answer } from "dns-packet";
import type { AnswerSlot } from "./records.ts";
import { EncodeError, encodeResponse } from "./encode.ts";
import { tcpBytesMax, udpBytesDefault, udpLimitBytes, type Query } from "./wire.ts";

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
  readonly bytes: Buffer;
  readonly truncated: boolean;
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

/** The largest k in [1, n] for which `fits(k)`, or 0 (sizes grow with k, so a binary search). */
function largestFitting(n: number, fits: (k: number) => boolean): number {
  let low = 0;
  let high = n;
  while (low < high) {
    const mid = Math.ceil((low + high) / 2);
    if (fits(mid)) low = mid;
    else high = mid - 1;
  }
  return low;
}

export function fitResponse(query: Query, draft: Draft, options: FitOptions): Fitted {
  const limitBytes = options.transport === "udp" ? udpLimitBytes(query) : tcpBytesMax;
  let slots = draft.answers;
  // Consul limits the number of answers only for clients that did not raise the 512-byte limit.
  if (options.transport === "udp" && limitBytes === udpBytesDefault && slots.length > options.udpAnswerLimit) {
    slots = slots.slice(0, options.udpAnswerLimit);
  }
  const encode = (answers: readonly AnswerSlot[], authorities: readonly Answer[], additionals: readonly Answer[], withGlue: boolean, truncated: boolean): Buffer => encodeResponse(query, {
    rcode: draft.rcode, authoritative: draft.authoritative ?? true, recursionAvailable: options.recursionAvailable, truncated,
    answers: answers.map((slot) => slot.record), authorities,
    additionals: withGlue ? [...glueFor(answers, draft.glue), ...additionals] : [...additionals],
  });
  /** Encoded size, or Infinity for a message past 64 KiB (which the encoder refuses to build). */
  const sizeOf = (answers: readonly AnswerSlot[], authorities: readonly Answer[], additionals: readonly Answer[], withGlue: boolean): number => {
    try {
      return encode(answers, authorities, additionals, withGlue, false).length;
    } catch (error) {
      if (error instanceof EncodeError && error.tooLarge) return Number.POSITIVE_INFINITY;
      throw error;
    }
  };
  const fitted = (kept: number, build: (truncated: boolean) => Buffer): Fitted => {
    const droppedAnswers = draft.answers.length - kept;
    const truncated = options.transport === "udp" && options.enableTruncate && droppedAnswers > 0;
    return { bytes: build(truncated), truncated, droppedAnswers };
  };

  // The common case: everything fits as it is.
  const whole = (truncated: boolean) => encode(slots, draft.authorities, draft.additionals, true, truncated);
  if (slots.length === draft.answers.length) {
    // Encoded once and sent as it is when it fits.
    let wholeBytes: Buffer | null = null;
    try {
      wholeBytes = whole(false);
    } catch (error) {
      if (!(error instanceof EncodeError && error.tooLarge)) throw error;
    }
    if (wholeBytes !== null && wholeBytes.length <= limitBytes) return { bytes: wholeBytes, truncated: false, droppedAnswers: 0 };
  } else if (sizeOf(slots, draft.authorities, draft.additionals, true) <= limitBytes) {
    return fitted(slots.length, whole);
  }

  // Then fewer answers: with the authority section, without it, without the message-wide additionals.
  const attempts: [readonly Answer[], readonly Answer[]][] = [[draft.authorities, draft.additionals], [[], draft.additionals], [[], []]];
  for (const [authorities, additionals] of attempts) {
    const fits = (k: number): boolean => sizeOf(slots.slice(0, k), authorities, additionals, true) <= limitBytes;
    if (slots.length === 0) {
      if (fits(0)) return fitted(0, (truncated) => encode([], authorities, additionals, true, truncated));
      continue;
    }
    const kept = largestFitting(slots.length, fits);
    if (kept >= 1) return fitted(kept, (truncated) => encode(slots.slice(0, kept), authorities, additionals, true, truncated));
    // Not even the first answer with its glue: try it bare.
    if (sizeOf(slots.slice(0, 1), authorities, additionals, false) <= limitBytes) {
      return fitted(1, (truncated) => encode(slots.slice(0, 1), authorities, additionals, false, truncated));
    }
  }
  // Nothing useful fits: an empty answer with TC tells the client to ask over TCP.
  return { bytes: encode([], [], [], false, true), truncated: true, droppedAnswers: draft.answers.length };
}
