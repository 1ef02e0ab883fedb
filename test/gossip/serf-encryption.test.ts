/**
 * Gossip encryption against a real `serf agent -encrypt KEY` on loopback: a Praetor member with the
 * same key (from `serf keygen`) joins it over an encrypted push/pull, both list each other alive,
 * and a user event crosses in encrypted UDP gossip. A member with another key cannot join, and
 * says why: "encryption key mismatch" with serf's address, not a bare EOF. The keyring's own
 * rules (key sizes, rotation, version-0 padding) are checked without serf.
 */
import test from "ava";
import { execFileSync } from "node:child_process";
import { createCipheriv } from "node:crypto";
import type { GossipEvent } from "../../src/core/gossip/events.ts";
import { GossipKeyring, decodeKey, encryptedBytes } from "../../src/transports/gossip-keyring.ts";
import type { GossipLogLevel } from "../../src/transports/gossip-log.ts";
import { startGossipMember } from "../../src/transports/gossip-member.ts";
import { SerfAgent, eventually, serfInstalled, serfMissingMessage } from "./serf-agent.ts";

const serfBind = "127.0.0.1:18046";
const serfRpc = "127.0.0.1:18043";

const keygen = (): string => execFileSync("serf", ["keygen"], { encoding: "utf8" }).trim();

test("a Praetor member with serf's key joins `serf agent -encrypt`; events cross; another key is refused as a key mismatch", async (t) => {
  if (!serfInstalled()) return t.fail(serfMissingMessage);
  const key = keygen();
  t.is(decodeKey(key).length, 32, "serf keygen makes 32-byte keys");
  const serf = await SerfAgent.start({ node: "serf-e", bind: serfBind, rpc: serfRpc, encrypt: key });
  t.teardown(() => serf.kill());
  const good = await startGossipMember({ name: "p-good", bind: "127.0.0.1:18051", keyring: GossipKeyring.fromBase64(key) });
  t.teardown(() => good.kill());
  const logs: { level: GossipLogLevel; msg: string; fields: Readonly<Record<string, unknown>> }[] = [];
  const bad = await startGossipMember({
    name: "p-bad", bind: "127.0.0.1:18052", keyring: GossipKeyring.fromBase64(keygen()),
    logger: (level, msg, fields) => logs.push({ level, msg, fields }),
  });
  t.teardown(() => bad.kill());
  const events: GossipEvent[] = [];
  good.onEvent((e) => events.push(e));

  t.is(await good.joinAndWait([serfBind]), serfBind, "the encrypted push/pull is answered");
  await eventually(async () => ((await serf.members()).some((m) => m.name === "p-good" && m.status === "alive") ? true : undefined),
    "serf to list p-good alive", 15_000);
  await eventually(() => (good.members().some((m) => m.name === "serf-e" && m.status === "alive") ? true : undefined), "p-good to list serf alive", 10_000);
  await serf.run("event", "deploy", "v7");
  await eventually(() => events.find((e) => e.type === "user-event" && e.name === "deploy"), "serf's event at p-good", 10_000);
  t.is(good.counters.dropped["key-mismatch"] ?? 0, 0, "everything serf sent opened with the shared key");

  await t.throwsAsync(bad.joinAndWait([serfBind]), { message: /join failed/ });
  const mismatch = logs.find((l) => l.msg.includes("encryption key mismatch"));
  t.truthy(mismatch, `logged: ${logs.map((l) => l.msg).join(" | ")}`);
  t.is(mismatch!.fields.peer, serfBind, "the line names the peer");
  t.is(mismatch!.level, "error");
  t.true((bad.counters.dropped["key-mismatch"] ?? 0) >= 1);
  t.false((await serf.members()).some((m) => m.name === "p-bad"), "serf never admitted the member with the wrong key");
});

test("keyring: 16/24/32-byte keys; sealed by the primary, opened by any key; rotation; version 0 padding", (t) => {
  const k = (n: number, fill: number): Uint8Array => new Uint8Array(n).fill(fill);
  for (const n of [16, 24, 32]) {
    const ring = new GossipKeyring([k(n, 1)]);
    const aad = new TextEncoder().encode("label");
    const sealed = ring.encrypt(Uint8Array.of(1, 2, 3), aad);
    t.is(sealed.length, encryptedBytes(3));
    t.is(sealed[0], 1, "version 1: no padding");
    t.deepEqual(ring.decrypt(sealed, aad), Uint8Array.of(1, 2, 3));
    t.throws(() => ring.decrypt(sealed, new TextEncoder().encode("other")), { message: /no installed keys/ }, "the label is authenticated");
  }
  t.throws(() => new GossipKeyring([k(15, 1)]), { message: /16, 24 or 32 bytes.*got 15/ });
  t.throws(() => GossipKeyring.fromBase64("not base64!"), { message: /not valid base64/ });

  const old = new GossipKeyring([k(16, 1)]);
  const rotating = new GossipKeyring([k(16, 2), k(16, 1)]);
  const fromOld = old.encrypt(Uint8Array.of(9), new Uint8Array(0));
  t.deepEqual(rotating.decrypt(fromOld, new Uint8Array(0)), Uint8Array.of(9), "an extra key still opens the old key's messages");
  t.throws(() => old.decrypt(rotating.encrypt(Uint8Array.of(9), new Uint8Array(0)), new Uint8Array(0)), { message: /no installed keys/ });
  rotating.useKey(k(16, 1));
  t.deepEqual(old.decrypt(rotating.encrypt(Uint8Array.of(9), new Uint8Array(0)), new Uint8Array(0)), Uint8Array.of(9), "after useKey the old key seals");
  t.throws(() => rotating.removeKey(k(16, 1)), { message: /primary/ });
  rotating.removeKey(k(16, 2));
  t.deepEqual(rotating.list(), [Buffer.from(k(16, 1)).toString("base64")]);

  // memberlist protocol 1 peers seal with version 0: PKCS7 padding inside the ciphertext.
  const nonce = new Uint8Array(12).fill(7);
  const cipher = createCipheriv("aes-128-gcm", k(16, 1), nonce);
  const padded = Uint8Array.of(5, 6, ...new Array<number>(14).fill(14));
  const body = Buffer.concat([cipher.update(padded), cipher.final(), cipher.getAuthTag()]);
  t.deepEqual(old.decrypt(Uint8Array.of(0, ...nonce, ...body), new Uint8Array(0)), Uint8Array.of(5, 6));
});
