/**
 * `DurableDirectory` over real files, for the agent's data directory. Appends, reads and the
 * compaction's syncs are synchronous (page-cache writes, and rare); the WAL's per-save sync has an
 * asynchronous twin (`syncAsync`) so a slow disk never stalls the event loop.
 *
 * A new file's name becomes durable with an fsync of the directory, done on the file's first
 * sync; `remove` fsyncs the directory before returning.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { DurableDirectory, DurableFile } from "./durable-file.ts";

export class NodeFsDirectory implements DurableDirectory {
  private readonly open_ = new Map<string, NodeFsFile>();

  constructor(readonly dirPath: string) {
    fs.mkdirSync(dirPath, { recursive: true });
  }

  open(name: string): DurableFile {
    if (name.length === 0 || name.includes("/") || name.includes(path.sep)) {
      throw new TypeError(`file name ${JSON.stringify(name)} must be flat and non-empty`);
    }
    const existing = this.open_.get(name);
    if (existing !== undefined) return existing;
    const file = new NodeFsFile(this, name, fs.openSync(path.join(this.dirPath, name), "a+"));
    this.open_.set(name, file);
    return file;
  }

  exists(name: string): boolean {
    return fs.existsSync(path.join(this.dirPath, name));
  }

  list(): string[] {
    return fs.readdirSync(this.dirPath).sort();
  }

  remove(name: string): void {
    this.open_.get(name)?.close();
    this.open_.delete(name);
    fs.rmSync(path.join(this.dirPath, name), { force: true });
    this.syncDirectory();
  }

  /** Closes every open file. */
  close(): void {
    for (const file of this.open_.values()) file.close();
    this.open_.clear();
  }

  syncDirectory(): void {
    const fd = fs.openSync(this.dirPath, "r");
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  }
}

class NodeFsFile implements DurableFile {
  private nameSynced = false;
  private closed = false;
  /**
   * The file's size as our own appends and truncations left it (this process is its only writer):
   * the WAL asks for it twice per save, and an fstat each time is a syscall per ask.
   */
  private knownSizeBytes: number | null = null;

  constructor(
    private readonly dir: NodeFsDirectory,
    readonly name: string,
    private readonly fd: number,
  ) {}

  sizeBytes(): number {
    this.knownSizeBytes ??= fs.fstatSync(this.live()).size;
    return this.knownSizeBytes;
  }

  read(offsetBytes: number, lengthBytes: number): Uint8Array {
    const out = new Uint8Array(lengthBytes);
    let done = 0;
    while (done < lengthBytes) {
      const n = fs.readSync(this.live(), out, done, lengthBytes - done, offsetBytes + done);
      if (n === 0) throw new RangeError(`read ${this.name}: ${offsetBytes}+${lengthBytes} past the end`);
      done += n;
    }
    return out;
  }

  append(bytes: Uint8Array): void {
    const sizeBytes = this.sizeBytes();
    // Unknown until it succeeds whole: a failed write may have written part of the bytes.
    this.knownSizeBytes = null;
    let done = 0;
    while (done < bytes.length) done += fs.writeSync(this.live(), bytes, done, bytes.length - done);
    this.knownSizeBytes = sizeBytes + bytes.length;
  }

  truncate(sizeBytes: number): void {
    this.knownSizeBytes = null;
    fs.ftruncateSync(this.live(), sizeBytes);
    this.knownSizeBytes = sizeBytes;
  }

  sync(): void {
    fs.fsyncSync(this.live());
    if (!this.nameSynced) this.dir.syncDirectory();
    this.nameSynced = true;
  }

  /**
   * fdatasync on libuv's thread pool, so the event loop keeps serving while the disk works
   * (appends only grow the file, and fdatasync flushes the size that reaching them needs). A
   * file's first sync also makes its name durable, inline: once per segment.
   */
  syncAsync(done: (error: Error | null) => void): void {
    if (!this.nameSynced) {
      try {
        this.sync();
      } catch (error) {
        return done(error as Error);
      }
      return done(null);
    }
    let fd: number;
    try {
      fd = this.live();
    } catch (error) {
      return done(error as Error);
    }
    fs.fdatasync(fd, (error) => done(error === null ? null : new Error(`fdatasync ${this.name}: ${error.message}`, { cause: error })));
  }

  close(): void {
    if (!this.closed) fs.closeSync(this.fd);
    this.closed = true;
  }

  private live(): number {
    if (this.closed) throw new Error(`${this.name}: file is closed`);
    return this.fd;
  }
}
