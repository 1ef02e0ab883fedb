import test from "ava";
import { coalesceMessages } from "../../src/agent/raft-host.ts";
import type { Entry, Message } from "../../src/core/raft/types.ts";

const entry = (index: number, term = 2): Entry => ({ index, term, type: "normal", data: new Uint8Array([index]) });
const append = (to: string, index: number, count: number, commit: number, logTerm = 2): Message =>
  ({ type: "append", from: "L", to, term: 2, index, logTerm, entries: Array.from({ length: count }, (_, i) => entry(index + 1 + i)), commit });
const ack = (index: number, extra: Partial<Message> = {}): Message => ({ type: "appendResp", from: "F", to: "L", term: 2, index, ...extra });

test("coalesceMessages: one-entry appends to a peer become one append of the run, with the last commit", (t) => {
  const messages = [append("a", 10, 1, 9), append("b", 10, 1, 9), append("a", 11, 1, 9), append("a", 12, 2, 10), append("b", 11, 1, 10)];
  const out = coalesceMessages(messages, 64);
  t.deepEqual(messages.map((m) => m.entries!.length), [1, 1, 1, 2, 1], "the core's entry arrays (slices of its log) are left as they were");
  t.deepEqual(out, [
    { type: "append", from: "L", to: "a", term: 2, index: 10, logTerm: 2, entries: [entry(11), entry(12), entry(13), entry(14)], commit: 10 },
    { type: "append", from: "L", to: "b", term: 2, index: 10, logTerm: 2, entries: [entry(11), entry(12)], commit: 10 },
  ]);
});

test("coalesceMessages: appends that do not continue each other, or would exceed the entry cap, stay apart", (t) => {
  const gap = [append("a", 10, 1, 9), append("a", 12, 1, 9)];
  t.deepEqual(coalesceMessages(gap, 64), gap);
  const otherTerm = [append("a", 10, 1, 9), { ...append("a", 11, 1, 9), logTerm: 1 }];
  t.deepEqual(coalesceMessages(otherTerm, 64), otherTerm);
  const newerTerm = [append("a", 10, 1, 9), { ...append("a", 11, 1, 9), term: 3 }];
  t.deepEqual(coalesceMessages(newerTerm, 64), newerTerm);
  const capped = coalesceMessages([append("a", 10, 2, 9), append("a", 12, 2, 9), append("a", 14, 1, 9)], 4);
  t.deepEqual(capped.map((m) => [m.index, m.entries!.length]), [[10, 4], [14, 1]]);
});

test("coalesceMessages: an empty append (commit only) continues the run at the same index", (t) => {
  const out = coalesceMessages([append("a", 10, 2, 9), append("a", 12, 0, 12)], 64);
  t.deepEqual(out, [{ type: "append", from: "L", to: "a", term: 2, index: 10, logTerm: 2, entries: [entry(11), entry(12)], commit: 12 }]);
});

test("coalesceMessages: a peer's messages keep their order; only runs of one kind merge", (t) => {
  const heartbeat: Message = { type: "heartbeat", from: "L", to: "a", term: 2, commit: 10, ctx: "7" };
  const messages = [append("a", 10, 1, 9), heartbeat, append("a", 11, 1, 9)];
  t.deepEqual(coalesceMessages(messages, 64), messages);
});

test("coalesceMessages: acknowledgements keep the highest; rejections and hints pass untouched", (t) => {
  t.deepEqual(coalesceMessages([ack(11), ack(13), ack(12)], 64), [ack(13)]);
  const reject = ack(9, { reject: true, rejectHint: 8, rejectHintTerm: 1 });
  t.deepEqual(coalesceMessages([ack(11), reject, ack(12)], 64), [ack(11), reject, ack(12)]);
  t.deepEqual(coalesceMessages([ack(11), ack(12, { term: 3 })], 64), [ack(11), ack(12, { term: 3 })]);
});
