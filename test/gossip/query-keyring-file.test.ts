/**
 * Keyring changes made through Serf's keyring queries are written to each member's keyring file
 * before they are answered, so a member restarted after the pool rotated its key comes back with
 * the new key and rejoins (127.0.0.66-67, port 17960: the interop tests use 7946 there).
 */
import test from "ava";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { GossipEndpoint } from "../../src/transports/gossip-endpoint.ts";
import { openKeyringFile, readKeyringFile } from "../../src/transports/gossip-keyring-file.ts";
import { startGossipMember } from "../../src/transports/gossip-member.ts";
import { eventually } from "./serf-agent.ts";

const keygen = (): string => randomBytes(32).toString("base64");

test("install, use and remove are on disk before they are answered; a restarted member comes back on the new key", async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), "praetor-keyring-"));
  const [k1, k2] = [keygen(), keygen()];
  const fileA = path.join(dir, "a", "local.keyring");
  const fileB = path.join(dir, "b", "local.keyring");
  const start = (name: string, bind: string, file: string): Promise<GossipEndpoint> => {
    const { keyring, queryKeyring } = openKeyringFile(file, k1);
    return startGossipMember({ name, bind, keyring, queryKeyring });
  };
  const a = await start("ka", "127.0.0.66:17960", fileA);
  let b = await start("kb", "127.0.0.67:17960", fileB);
  t.teardown(async () => {
    await a.kill();
    await b.kill();
    rmSync(dir, { recursive: true, force: true });
  });
  t.deepEqual(readKeyringFile(fileA), [k1], "created from the initial key");
  await b.joinAndWait(["127.0.0.66:17960"]);
  await eventually(() => (a.members().filter((m) => m.status === "alive").length === 2 ? true : undefined), "a pool of two", 10_000);

  t.is((await a.keyringOperation("install", k2)).error, null);
  t.deepEqual(readKeyringFile(fileB), [k1, k2]);
  t.is((await a.keyringOperation("use", k2)).error, null);
  t.is((await a.keyringOperation("remove", k1)).error, null);
  t.deepEqual([readKeyringFile(fileA), readKeyringFile(fileB)], [[k2], [k2]]);

  await b.kill();
  b = await start("kb", "127.0.0.67:17960", fileB);
  await b.joinAndWait(["127.0.0.66:17960"]);
  const listed = await b.keyringOperation("list");
  t.deepEqual(listed.result.keys, { [k2]: 2 }, "the restarted member speaks the rotated key");
  t.is(listed.error, null);

  // A file that cannot be written makes the member report failure rather than answer success.
  rmSync(path.dirname(fileB), { recursive: true, force: true });
  writeFileSync(path.dirname(fileB), "not a directory");
  const failed = await a.keyringOperation("install", k1);
  t.regex(failed.error ?? "", /1\/2 nodes reported failure/);
  t.regex(failed.result.messages.kb ?? "", /failed to write keyring file/);
  t.deepEqual(readKeyringFile(fileA), [k2, k1]);
  t.is(statSync(fileA).mode & 0o777, 0o600, "keys are readable by the agent's user only");
});

test("a malformed keyring file is an error naming the file; the file wins over the initial key", (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), "praetor-keyring-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, "local.keyring");
  writeFileSync(file, "{\"not\": \"an array\"}");
  t.throws(() => openKeyringFile(file, keygen()), { message: new RegExp(`keyring file ${file.replace(/[/.]/g, "\\$&")}: expected a non-empty JSON array`) });
  writeFileSync(file, "[");
  t.throws(() => readKeyringFile(file), { message: /keyring file .*JSON/ });
  const [k1, k2] = [keygen(), keygen()];
  writeFileSync(file, JSON.stringify([k2, k1]));
  t.deepEqual(openKeyringFile(file, k1).keyring.list(), [k2, k1]);
});
