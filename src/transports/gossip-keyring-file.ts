/**
 * A gossip keyring kept on disk, as Serf's -keyring-file and Consul's `serf/local.keyring` and
 * `serf/remote.keyring`: a JSON array of base64 keys, the primary first. Keyring queries change
 * the ring through this wrapper, which writes the file (to a temporary name, fsync, rename, fsync
 * the directory) before the change is answered, so a key the pool rotated to survives a restart.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { QueryKeyring } from "../core/gossip/query.ts";
import { GossipKeyring } from "./gossip-keyring.ts";

/** The keys in a keyring file, or null when there is none; a malformed file is an error naming it. */
export function readKeyringFile(file: string): string[] | null {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw e;
  }
  let keys: unknown;
  try {
    keys = JSON.parse(text);
  } catch (e) {
    throw new Error(`keyring file ${file}: ${(e as Error).message}`);
  }
  if (!Array.isArray(keys) || keys.length === 0 || !keys.every((k) => typeof k === "string")) {
    throw new Error(`keyring file ${file}: expected a non-empty JSON array of base64 keys`);
  }
  return keys as string[];
}

export function writeKeyringFile(file: string, keys: readonly string[]): void {
  const dir = path.dirname(file);
  mkdirSync(dir, { recursive: true });
  const tmp = `${file}.tmp`;
  const fd = openSync(tmp, "w", 0o600);
  try {
    writeFileSync(fd, JSON.stringify(keys));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
  const dirFd = openSync(dir, "r");
  try {
    fsyncSync(dirFd);
  } finally {
    closeSync(dirFd);
  }
}

/**
 * The ring the sockets seal and open with, and the wrapper the keyring queries act through. The
 * file wins over `initialKey` when it exists (Consul ignores -encrypt then); otherwise it is created.
 */
export function openKeyringFile(file: string, initialKey: string): { keyring: GossipKeyring; queryKeyring: QueryKeyring } {
  const stored = readKeyringFile(file);
  const keyring = GossipKeyring.fromBase64(stored?.[0] ?? initialKey, stored?.slice(1) ?? []);
  if (stored === null) writeKeyringFile(file, keyring.list());
  return { keyring, queryKeyring: new PersistedKeyring(keyring, file) };
}

export class PersistedKeyring implements QueryKeyring {
  constructor(private readonly ring: GossipKeyring, readonly file: string) {}

  list(): string[] {
    return this.ring.list();
  }

  addKey(key: Uint8Array): void {
    this.change(() => this.ring.addKey(key));
  }

  useKey(key: Uint8Array): void {
    this.change(() => this.ring.useKey(key));
  }

  removeKey(key: Uint8Array): void {
    this.change(() => this.ring.removeKey(key));
  }

  /** Applies the change, then writes the file; a failed write is reported to the asker (as Serf does). */
  private change(apply: () => void): void {
    apply();
    try {
      writeKeyringFile(this.file, this.ring.list());
    } catch (e) {
      throw new Error(`failed to write keyring file ${this.file}: ${(e as Error).message}`);
    }
  }
}
