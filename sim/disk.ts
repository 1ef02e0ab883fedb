/**
 * A deterministic in-memory disk for one simulated node. It outlives the node: the world keeps
 * it across a crash and hands it to the restarted node.
 *
 * What survives a crash (`crash(rng, opts)`): every byte synced; nothing that was not, except
 * that the last unsynced write may be torn (a strict prefix of the unsynced tail of the file
 * written last survives) or corrupted (that tail survives with one byte flipped), chosen from
 * the world's seeded generator. A file never synced vanishes; `remove` is durable at once.
 * A truncation not yet synced is undone by a crash.
 *
 * For crashes in the middle of a multi-step operation (a write-ahead log's compaction), the world
 * or a test can arm the disk with `failSyncAfter(n)`: the next n syncs succeed, the one after
 * throws `DiskCrashedError` without syncing, and the disk refuses all I/O until `crash()`.
 */
import type { DurableDirectory, DurableFile } from "../src/storage/durable-file.ts";
import { assert } from "../src/core/util/assert.ts";
import { randomInt, type Rng } from "../src/core/util/rng.ts";

export interface DiskCrashOptions {
  /** Chance that the last unsynced write leaves a torn prefix instead of vanishing. */
  readonly tornWriteProbability?: number;
  /** Chance that the last unsynced write survives with one byte flipped. */
  readonly corruptWriteProbability?: number;
}

export interface DiskStats {
  appends: number;
  bytesWritten: number;
  syncs: number;
  bytesSynced: number;
  truncates: number;
  removes: number;
  crashes: number;
  bytesLostInCrashes: number;
  tornWrites: number;
  corruptedWrites: number;
}

export interface CrashReport {
  readonly bytesLost: number;
  readonly torn: { readonly file: string; readonly bytesKept: number } | null;
  readonly corrupted: { readonly file: string; readonly offsetBytes: number } | null;
}

/** Thrown by an armed disk at the sync it was armed to fail, and by any I/O until `crash()`. */
export class DiskCrashedError extends Error {
  override name = "DiskCrashedError";
}

/** One file's bytes: `data[0, length)` is what reads see; `syncedLength` of it is durable. */
class SimFileState {
  data = new Uint8Array(64);
  length = 0;
  syncedLength = 0;
  everSynced = false;
  /** Durable bytes from `shadowAt` that an unsynced truncate (and later appends) replaced. */
  shadow: Uint8Array | null = null;
  shadowAt = 0;

  append(bytes: Uint8Array): void {
    if (this.length + bytes.length > this.data.length) {
      const grown = new Uint8Array(Math.max(this.data.length * 2, this.length + bytes.length));
      grown.set(this.data.subarray(0, this.length));
      this.data = grown;
    }
    this.data.set(bytes, this.length);
    this.length += bytes.length;
  }

  truncate(sizeBytes: number): void {
    const durableEnd = this.shadow === null ? this.syncedLength : this.shadowAt;
    if (sizeBytes < durableEnd) {
      const kept = this.data.slice(sizeBytes, durableEnd);
      this.shadow = this.shadow === null ? kept : concat(kept, this.shadow);
      this.shadowAt = sizeBytes;
    }
    this.length = sizeBytes;
  }

  sync(): void {
    this.shadow = null;
    this.syncedLength = this.length;
    this.everSynced = true;
  }

  /** Back to the durable bytes, plus `extra` (a torn or corrupted tail) when given. */
  revert(extra: Uint8Array | null): void {
    if (this.shadow !== null) {
      this.length = this.shadowAt;
      this.append(this.shadow);
      this.shadow = null;
    }
    this.length = this.syncedLength;
    if (extra !== null) this.append(extra);
    this.syncedLength = this.length;
  }

  /** Bytes past the durable ones that extend them (none when an unsynced truncate intervened). */
  unsyncedTail(): Uint8Array | null {
    if (this.shadow !== null || this.length <= this.syncedLength) return null;
    return this.data.slice(this.syncedLength, this.length);
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

export class SimDisk implements DurableDirectory {
  readonly stats: DiskStats = {
    appends: 0, bytesWritten: 0, syncs: 0, bytesSynced: 0, truncates: 0, removes: 0,
    crashes: 0, bytesLostInCrashes: 0, tornWrites: 0, corruptedWrites: 0,
  };
  private readonly files = new Map<string, SimFileState>();
  /** Bumped by each crash: handles opened before it refuse I/O. */
  private epoch = 0;
  private lastWritten: string | null = null;
  private syncsBeforeFailure: number | null = null;
  private failed = false;
  /**
   * When set, `syncAsync` completes through it (the world schedules `complete` some simulated
   * milliseconds later), so a node can crash while a sync is in flight; unset, it syncs inline.
   */
  syncDelay: ((complete: () => void) => void) | null = null;

  open(name: string): DurableFile {
    this.checkUsable(`open ${name}`);
    assert(name.length > 0 && !name.includes("/"), `file name ${JSON.stringify(name)} must be flat and non-empty`);
    if (!this.files.has(name)) this.files.set(name, new SimFileState());
    return new SimFile(this, name, this.epoch);
  }

  exists(name: string): boolean {
    return this.files.has(name);
  }

  list(): string[] {
    return [...this.files.keys()].sort();
  }

  remove(name: string): void {
    this.checkUsable(`remove ${name}`);
    this.files.delete(name);
    this.stats.removes += 1;
  }

  /** Arms the disk: after `syncs` more successful syncs, the next sync fails as a crash would. */
  failSyncAfter(syncs: number): void {
    assert(Number.isInteger(syncs) && syncs >= 0, `failSyncAfter(${syncs}): need a count >= 0`);
    this.syncsBeforeFailure = syncs;
  }

  /** The node crashed: keep what is durable, and maybe a torn or corrupted last write. */
  crash(rng: Rng, opts: DiskCrashOptions = {}): CrashReport {
    this.epoch += 1;
    this.failed = false;
    this.syncsBeforeFailure = null;
    this.stats.crashes += 1;
    let bytesLost = 0;
    let torn: CrashReport["torn"] = null;
    let corrupted: CrashReport["corrupted"] = null;
    for (const [name, file] of [...this.files].sort(([a], [b]) => (a < b ? -1 : 1))) {
      const tail = file.unsyncedTail();
      const before = file.length;
      let extra: Uint8Array | null = null;
      if (tail !== null && name === this.lastWritten) {
        const roll = rng.next();
        if (roll < (opts.tornWriteProbability ?? 0)) {
          extra = tail.slice(0, randomInt(rng, 0, tail.length - 1));
          torn = { file: name, bytesKept: extra.length };
          this.stats.tornWrites += 1;
        } else if (roll < (opts.tornWriteProbability ?? 0) + (opts.corruptWriteProbability ?? 0)) {
          extra = tail;
          const at = randomInt(rng, 0, tail.length - 1);
          extra[at] = extra[at]! ^ (1 << randomInt(rng, 0, 7));
          corrupted = { file: name, offsetBytes: file.syncedLength + at };
          this.stats.corruptedWrites += 1;
        }
      }
      file.revert(extra);
      bytesLost += Math.max(0, before - file.length);
      if (!file.everSynced && file.length === 0) this.files.delete(name);
    }
    this.lastWritten = null;
    this.stats.bytesLostInCrashes += bytesLost;
    return { bytesLost, torn, corrupted };
  }

  /** Durable bytes of a file (what a crash now would keep at least), for tests and checkers. */
  durableBytes(name: string): Uint8Array {
    const file = this.files.get(name);
    assert(file !== undefined, `no file ${name}`);
    if (file.shadow === null) return file.data.slice(0, file.syncedLength);
    return concat(file.data.slice(0, file.shadowAt), file.shadow);
  }

  /** @internal: the state behind a handle, after checking the handle is still valid. */
  fileFor(name: string, epoch: number, what: string): SimFileState {
    this.checkUsable(`${what} ${name}`);
    assert(epoch === this.epoch, `${what} ${name}: handle opened before a crash`);
    const file = this.files.get(name);
    assert(file !== undefined, `${what} ${name}: file was removed`);
    return file;
  }

  /** @internal: the handle's epoch is still the disk's (no crash since it was opened). */
  current(epoch: number): boolean {
    return epoch === this.epoch;
  }

  /** @internal */
  noteWrite(name: string, bytes: number): void {
    this.lastWritten = name;
    this.stats.bytesWritten += bytes;
  }

  /** @internal: true when this sync must fail as the armed crash. */
  consumeSync(): boolean {
    if (this.syncsBeforeFailure === null) return false;
    if (this.syncsBeforeFailure > 0) {
      this.syncsBeforeFailure -= 1;
      return false;
    }
    this.failed = true;
    return true;
  }

  private checkUsable(what: string): void {
    if (this.failed) throw new DiskCrashedError(`disk crashed: ${what} refused until crash() is handled`);
  }
}

class SimFile implements DurableFile {
  constructor(
    private readonly disk: SimDisk,
    readonly name: string,
    private readonly epoch: number,
  ) {}

  sizeBytes(): number {
    return this.state("size").length;
  }

  read(offsetBytes: number, lengthBytes: number): Uint8Array {
    const file = this.state("read");
    assert(offsetBytes >= 0 && lengthBytes >= 0, `read ${this.name}: offset ${offsetBytes} length ${lengthBytes}`);
    assert(offsetBytes + lengthBytes <= file.length, `read ${this.name}: ${offsetBytes}+${lengthBytes} past size ${file.length}`);
    return file.data.slice(offsetBytes, offsetBytes + lengthBytes);
  }

  append(bytes: Uint8Array): void {
    const file = this.state("append");
    file.append(bytes);
    this.disk.noteWrite(this.name, bytes.length);
    this.disk.stats.appends += 1;
  }

  truncate(sizeBytes: number): void {
    const file = this.state("truncate");
    assert(sizeBytes >= 0 && sizeBytes <= file.length, `truncate ${this.name} to ${sizeBytes}: size is ${file.length}`);
    file.truncate(sizeBytes);
    this.disk.stats.truncates += 1;
  }

  sync(): void {
    const file = this.state("sync");
    if (this.disk.consumeSync()) throw new DiskCrashedError(`disk crashed during sync of ${this.name}`);
    this.disk.stats.bytesSynced += Math.max(0, file.length - file.syncedLength);
    this.disk.stats.syncs += 1;
    file.sync();
  }

  /**
   * A sync that finishes later (see `SimDisk.syncDelay`); it covers what was appended by the time
   * it finishes, as fsync does. A crash before then: `done` never runs, and the bytes are unsynced.
   */
  syncAsync(done: (error: Error | null) => void): void {
    const run = (): void => {
      try {
        this.sync();
      } catch (error) {
        return done(error as Error);
      }
      done(null);
    };
    const delay = this.disk.syncDelay;
    if (delay === null) return run();
    delay(() => {
      if (this.disk.current(this.epoch)) run();
    });
  }

  private state(what: string): SimFileState {
    return this.disk.fileFor(this.name, this.epoch, what);
  }
}

