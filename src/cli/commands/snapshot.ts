/**
 * `praetor snapshot save FILE` and `snapshot restore FILE` over /v1/snapshot, and `snapshot inspect
 * FILE` offline. The archive is the
 * server's opaque bytes; save writes them to a temporary file and renames it into place, so a
 * failed or interrupted save never leaves a partial snapshot under FILE.
 */
import type { Command } from "../command.ts";
import { ApiClient, ApiRequestError, clientFlags, clientOptions, serverFlags } from "../http-client.ts";
import { type CliIo, println } from "../io.ts";

function fail(io: CliIo, message: string): number {
  println(io.stderr, message);
  return 1;
}

/** The FILE argument's bytes, or the exit code after saying what is wrong (Consul's messages). */
async function readSnapshotFile(args: readonly string[], io: CliIo): Promise<Buffer | number> {
  if (args.length !== 1) return fail(io, args.length === 0 ? "Missing FILE argument" : `Too many arguments (expected 1, got ${args.length})`);
  const file = args[0]!;
  try {
    return await (await import("node:fs/promises")).readFile(file);
  } catch (e) {
    return fail(io, `Error opening snapshot file: ${(e as { code?: string }).code === "ENOENT" ? `open ${file}: no such file or directory` : (e as Error).message}`);
  }
}

export const snapshotSaveCommand: Command = {
  help: `
Usage: praetor snapshot save [options] FILE

  Retrieves an atomic, point-in-time snapshot of the state of the Praetor servers
  which includes key/value entries, service catalog, prepared queries, sessions,
  and ACLs.

  If ACLs are enabled, a management token must be supplied in order to perform
  snapshot operations.

  To create a snapshot from the leader server and save it to "backup.snap":

    $ praetor snapshot save backup.snap

  To create a potentially stale snapshot from any available server (useful if no
  leader is available):

    $ praetor snapshot save -stale backup.snap
`,
  flags: [...clientFlags, ...serverFlags],
  async run(parsed, io) {
    if (parsed.args.length !== 1) return fail(io, parsed.args.length === 0 ? "Missing FILE argument" : `Too many arguments (expected 1, got ${parsed.args.length})`);
    const file = parsed.args[0]!;
    const fs = await import("node:fs/promises");
    let data: Buffer;
    let index: string;
    try {
      const client = new ApiClient(clientOptions(parsed, io.env));
      const response = await client.request("/v1/snapshot");
      const chunks: Buffer[] = [];
      for await (const chunk of response.body) chunks.push(Buffer.from(chunk));
      data = Buffer.concat(chunks);
      const header = response.headers["x-consul-index"];
      index = String(Array.isArray(header) ? header[0] : (header ?? "0"));
    } catch (e) {
      if (!(e instanceof ApiRequestError)) throw e;
      return fail(io, `Error saving snapshot: ${e.message}`);
    }
    if (data.length === 0) return fail(io, "Error verifying snapshot: the server sent an empty snapshot");
    const temp = `${file}.${process.pid}.tmp`;
    try {
      await fs.writeFile(temp, data);
      await fs.rename(temp, file);
    } catch (e) {
      await fs.rm(temp, { force: true });
      return fail(io, `Error writing snapshot file: ${(e as Error).message}`);
    }
    println(io.stdout, `Saved and verified snapshot to index ${index}`);
    return 0;
  },
};

export const snapshotRestoreCommand: Command = {
  help: `
Usage: praetor snapshot restore [options] FILE

  Restores an atomic, point-in-time snapshot of the state of the Praetor servers
  which includes key/value entries, service catalog, prepared queries, sessions,
  and ACLs. The snapshot is read from the given file.

  Restores involve a potentially dangerous low-level Raft operation that is not
  designed to handle server failures during a restore. This command is primarily
  intended to be used when recovering from a disaster, restoring into a fresh
  cluster of Praetor servers.
`,
  flags: clientFlags,
  async run(parsed, io) {
    const data = await readSnapshotFile(parsed.args, io);
    if (typeof data === "number") return data;
    try {
      await new ApiClient(clientOptions(parsed, io.env)).request("/v1/snapshot", { method: "PUT", body: data });
    } catch (e) {
      if (!(e instanceof ApiRequestError)) throw e;
      return fail(io, `Error restoring snapshot: ${e.message}`);
    }
    println(io.stdout, "Restored snapshot");
    return 0;
  },
};

/** Consul's byte sizes in inspect output (humanize.IBytes without the "i"): 313B, 12.3KB. */
function humanBytes(n: number): string {
  if (n < 1024) return `${n}B`;
  const units = ["KB", "MB", "GB", "TB"];
  let value = n / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)}${units[unit]}`;
}

export const snapshotInspectCommand: Command = {
  help: `
Usage: praetor snapshot inspect [options] FILE

  Displays information about a snapshot file on disk: its index, size and the
  number and size of the records of each type it holds.

  To inspect the file "backup.snap":

    $ praetor snapshot inspect backup.snap
`,
  flags: [],
  async run(parsed, io) {
    const data = await readSnapshotFile(parsed.args, io);
    if (typeof data === "number") return data;
    const { inspectSnapshot } = await import("../../core/catalog/snapshot.ts");
    const { columnize } = await import("../columnize.ts");
    const summary = inspectSnapshot(data);
    if (typeof summary === "string") return fail(io, `Error inspecting snapshot: ${summary}`);
    println(io.stdout, columnize([
      [" Index", String(summary.index)], [" Size", String(summary.sizeBytes)], [" Version", String(summary.version)],
    ]));
    println(io.stdout, "");
    const total = summary.types.reduce((sum, t) => sum + t.sizeBytes, 0);
    println(io.stdout, columnize([
      [" Type", "Count", "Size"], [" ----", "----", "----"],
      ...summary.types.map((t) => [` ${t.type}`, String(t.count), humanBytes(t.sizeBytes)]),
      [" ----", "----", "----"], [" Total", "", humanBytes(total)],
    ]));
    return 0;
  },
};
