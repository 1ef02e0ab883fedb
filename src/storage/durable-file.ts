/**
 * The little a write-ahead log needs from a disk, implemented by the simulator's disk
 * (`sim/disk.ts`) and by real files (`node-fs-directory.ts`).
 *
 * Durability contract: bytes appended and truncations made become durable only when `sync()`
 * returns. A crash may lose anything not yet synced, and may leave a torn or corrupted copy of
 * the last unsynced write; synced bytes are never lost. A file's existence is durable once it has
 * been synced, and `remove()` is durable when it returns.
 */
export interface DurableFile {
  readonly name: string;
  sizeBytes(): number;
  /** Exactly `lengthBytes` bytes from `offsetBytes`; reading past the end is an error. */
  read(offsetBytes: number, lengthBytes: number): Uint8Array;
  append(bytes: Uint8Array): void;
  /** Cuts the file to `sizeBytes`, which must not exceed its size. */
  truncate(sizeBytes: number): void;
  sync(): void;
  /**
   * Optional: `sync()` off the caller's thread; `done` runs once every byte appended before the
   * call is durable (or with the error). Appends made meanwhile may or may not be covered.
   */
  syncAsync?(done: (error: Error | null) => void): void;
}

/** A flat directory of durable files. */
export interface DurableDirectory {
  /** Opens `name`, creating it empty when absent. */
  open(name: string): DurableFile;
  exists(name: string): boolean;
  /** File names, sorted. */
  list(): string[];
  remove(name: string): void;
}
