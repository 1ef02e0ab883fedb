import test from "ava";
import { WakeTurns } from "../../src/agent/wake-turns.ts";

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

test("wake turns: a small group runs at once, a large one per turn, with other work between the turns", async (t) => {
  const turns = new WakeTurns(4);
  const ran: string[] = [];
  for (let i = 0; i < 3; i++) turns.run(() => ran.push(`a${i}`));
  t.deepEqual(ran, ["a0", "a1", "a2"], "fewer than perTurn: no wait at all");
  for (let i = 0; i < 6; i++) turns.run(() => ran.push(`b${i}`));
  t.deepEqual(ran, ["a0", "a1", "a2", "b0"], "the turn's budget is spent; the rest wait");
  t.is(turns.pending, 5);
  // Work that arrives meanwhile (a socket, a timer) runs between turns, not after all of them.
  setImmediate(() => ran.push("other"));
  await nextTurn();
  t.deepEqual(ran.slice(4), ["b1", "b2", "b3", "b4", "other"], "the next turn runs the next perTurn, then other work");
  await nextTurn();
  t.deepEqual(ran.slice(9), ["b5"], "then the rest of the group");
  await nextTurn();
  t.is(turns.pending, 0);
  t.deepEqual(ran.filter((x) => x.startsWith("b")), ["b0", "b1", "b2", "b3", "b4", "b5"], "in order, each once");
});

test("wake turns: order is kept, a job queued behind others never jumps ahead, and a bad size is refused", async (t) => {
  const turns = new WakeTurns(2);
  const ran: number[] = [];
  for (let i = 0; i < 7; i++) turns.run(() => ran.push(i));
  while (turns.pending > 0) await nextTurn();
  t.deepEqual(ran, [0, 1, 2, 3, 4, 5, 6]);
  t.throws(() => new WakeTurns(0), { message: /perTurn must be at least 1/ });
});
