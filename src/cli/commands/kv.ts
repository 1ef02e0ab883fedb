/** `praetor kv get|put|delete|export|import`, with Consul's flags, messages and exit codes. */
import { readFile } from "node:fs/promises";
import type { Command } from "../command.ts";
import type { FlagSpec, ParsedFlags } from "../flags.ts";
import { flagBool, flagString } from "../flags.ts";
import { ApiClient, ApiRequestError, clientFlags, clientOptions, serverFlags } from "../http-client.ts";
import { type CliIo, println } from "../io.ts";

/** One entry of GET /v1/kv (Value is base64 or null). */
export interface KvPair {
  readonly Key: string;
  readonly CreateIndex: number;
  readonly ModifyIndex: number;
  readonly LockIndex: number;
  readonly Flags: number;
  readonly Value: string | null;
  readonly Session?: string;
}

function kvPath(key: string): string {
  return `/v1/kv/${key.split("/").map(encodeURIComponent).join("/")}`;
}

/** Consul strips one leading slash: keys cannot start with one, and people type them anyway. */
function stripSlash(key: string): string {
  return key.startsWith("/") ? key.slice(1) : key;
}

function decodeValue(pair: KvPair): Buffer {
  return Buffer.from(pair.Value ?? "", "base64");
}

/** Go's tabwriter(minwidth 0, tabwidth 2, padding 6): the label column is the widest label plus six. */
export function prettyKvPair(pair: KvPair, base64: boolean): string {
  const rows: [string, string][] = [
    ["CreateIndex", String(pair.CreateIndex)],
    ["Flags", String(pair.Flags)],
    ["Key", pair.Key],
    ["LockIndex", String(pair.LockIndex)],
    ["ModifyIndex", String(pair.ModifyIndex)],
    ["Session", pair.Session === undefined || pair.Session === "" ? "-" : pair.Session],
    ["Value", base64 ? (pair.Value ?? "") : decodeValue(pair).toString("utf8")],
  ];
  const width = Math.max(...rows.map(([label]) => label.length)) + 6;
  return rows.map(([label, value]) => `${label.padEnd(width)}${value}`).join("\n");
}

async function withClient(parsed: ParsedFlags, io: CliIo, body: (client: ApiClient) => Promise<number>): Promise<number> {
  let client: ApiClient;
  try {
    client = new ApiClient(clientOptions(parsed, io.env));
  } catch (e) {
    if (!(e instanceof ApiRequestError)) throw e;
    println(io.stderr, `Error connecting to Praetor agent: ${e.message}`);
    return 1;
  }
  return body(client);
}

/** Runs an API call; a failure prints `prefix: message` and yields undefined. */
async function attempt<T>(io: CliIo, prefix: string, call: () => Promise<T>): Promise<T | undefined> {
  try {
    return await call();
  } catch (e) {
    if (!(e instanceof ApiRequestError)) throw e;
    println(io.stderr, `${prefix}: ${e.message}`);
    return undefined;
  }
}

/** GET that treats 404 as "nothing there", as Consul's client does for KV. */
async function getOrNull<T>(client: ApiClient, path: string, query: Record<string, string | undefined>): Promise<T | null> {
  try {
    return await client.json<T>(path, { query });
  } catch (e) {
    if (e instanceof ApiRequestError && e.status === 404) return null;
    throw e;
  }
}

export const kvGetCommand: Command = {
  help: `
Usage: praetor kv get [options] [KEY_OR_PREFIX]

  Retrieves the value from Praetor's key-value store at the given key name. If no
  key exists with that name, an error is returned. If a key exists with that
  name but has no data, nothing is returned. If the name or prefix is omitted,
  it defaults to "" which is the root of the key-value store.
`,
  flags: [
    { name: "base64", kind: "bool", usage: "Base64 encode the value. The default value is false." },
    { name: "detailed", kind: "bool", usage: "Provide additional metadata about the key in addition to the value such as the ModifyIndex and any flags that may have been set on the key. The default value is false." },
    { name: "keys", kind: "bool", usage: "List keys which start with the given prefix, but not their values. This is especially useful if you only need the key names themselves. This option is commonly combined with the -separator option. The default value is false." },
    { name: "recurse", kind: "bool", usage: "Recursively look at all keys prefixed with the given path. The default value is false." },
    { name: "separator", kind: "string", placeholder: "string", usage: 'String to use as a separator between keys. The default value is "/", but this option is only taken into account when paired with the -keys flag.' },
    ...clientFlags,
    ...serverFlags,
  ],
  async run(parsed, io) {
    if (parsed.args.length > 1) {
      println(io.stderr, `Too many arguments (expected 1, got ${parsed.args.length})`);
      return 1;
    }
    const key = stripSlash(parsed.args[0] ?? "");
    const recurse = flagBool(parsed, "recurse");
    const keys = flagBool(parsed, "keys");
    const detailed = flagBool(parsed, "detailed");
    const base64 = flagBool(parsed, "base64");
    if (key === "" && !recurse && !keys) {
      println(io.stderr, "Error! Missing KEY argument");
      return 1;
    }
    return withClient(parsed, io, async (client) => {
      if (keys) {
        const list = await attempt(io, "Error querying Praetor agent", () => getOrNull<string[]>(client, kvPath(key), { keys: "", separator: flagString(parsed, "separator") ?? "/" }));
        if (list === undefined) return 1;
        for (const k of list ?? []) println(io.stdout, k);
        return 0;
      }
      if (recurse) {
        const pairs = await attempt(io, "Error querying Praetor agent", () => getOrNull<KvPair[]>(client, kvPath(key), { recurse: "" }));
        if (pairs === undefined) return 1;
        const list = pairs ?? [];
        list.forEach((pair, i) => {
          if (detailed) {
            println(io.stdout, prettyKvPair(pair, base64));
            if (i < list.length - 1) println(io.stdout, "");
          } else println(io.stdout, `${pair.Key}:${base64 ? (pair.Value ?? "") : decodeValue(pair).toString("utf8")}`);
        });
        return 0;
      }
      const pairs = await attempt(io, "Error querying Praetor agent", () => getOrNull<KvPair[]>(client, kvPath(key), {}));
      if (pairs === undefined) return 1;
      const pair = pairs?.[0];
      if (pair === undefined) {
        println(io.stderr, `Error! No key exists at: ${key}`);
        return 1;
      }
      if (detailed) println(io.stdout, prettyKvPair(pair, base64));
      else if (base64) println(io.stdout, pair.Value ?? "");
      else io.stdout(`${decodeValue(pair).toString("utf8")}\n`);
      return 0;
    });
  },
};

/** DATA as Consul reads it: "@file" reads a file, "-" reads stdin, anything else is the value. */
async function readData(data: string, io: CliIo): Promise<Buffer> {
  if (data.startsWith("@")) {
    try {
      return await readFile(data.slice(1));
    } catch (e) {
      throw new DataError(`Failed to read file: ${describeFsError(e, data.slice(1))}`);
    }
  }
  if (data === "-") return io.readStdin === undefined ? Buffer.alloc(0) : io.readStdin();
  return Buffer.from(data, "utf8");
}

class DataError extends Error {}

function describeFsError(e: unknown, file: string): string {
  const code = (e as { code?: string }).code;
  if (code === "ENOENT") return `open ${file}: no such file or directory`;
  if (code === "EACCES") return `open ${file}: permission denied`;
  return (e as Error).message;
}

function parseUint(parsed: ParsedFlags, name: string): number {
  const v = parsed.values.get(name);
  return typeof v === "number" ? v : 0;
}

const putFlags: FlagSpec[] = [
  { name: "acquire", kind: "bool", usage: "Obtain a lock on the key. If the key does not exist, this operation will create the key and obtain the lock. The session must already exist and be specified via the -session flag. The default value is false." },
  { name: "base64", kind: "bool", usage: "Treat the data as base 64 encoded. The default value is false." },
  { name: "cas", kind: "bool", usage: "Perform a Check-And-Set operation. Specifying this value also requires the -modify-index flag to be set. The default value is false." },
  { name: "flags", kind: "uint", placeholder: "uint", usage: "Unsigned integer value to assign to this key-value pair. This value is not read by Praetor, so clients can use this value however makes sense for their use case. The default value is 0 (no flags)." },
  { name: "modify-index", kind: "uint", placeholder: "uint", usage: "Unsigned integer representing the ModifyIndex of the key. This is used in combination with the -cas flag." },
  { name: "release", kind: "bool", usage: "Forfeit the lock on the key at the given path. This requires the -session flag to be set. The key must be held by the session in order to be unlocked. The default value is false." },
  { name: "session", kind: "string", placeholder: "string", usage: "User-defined identifier for this session as a string. This is commonly used with the -acquire and -release operations to build robust locking, but it can be set on any key. The default value is empty (no session)." },
  ...clientFlags,
];

export const kvPutCommand: Command = {
  help: `
Usage: praetor kv put [options] KEY [DATA]

  Writes the data to the given path in the key-value store. The data can be of
  any type.

      $ praetor kv put config/redis/maxconns 5

  The data can also be consumed from a file on disk by prefixing with the "@"
  symbol. For example:

      $ praetor kv put config/program/license @license.lic

  Or it can be read from stdin using the "-" symbol:

      $ echo "abcd1234" | praetor kv put config/program/license -
`,
  flags: putFlags,
  async run(parsed, io) {
    if (parsed.args.length === 0) {
      println(io.stderr, "Error! Missing KEY argument");
      return 1;
    }
    if (parsed.args.length > 2) {
      println(io.stderr, `Error! Too many arguments (expected 1 or 2, got ${parsed.args.length})`);
      return 1;
    }
    const key = stripSlash(parsed.args[0]!);
    let data: Buffer;
    try {
      data = await readData(parsed.args[1] ?? "", io);
    } catch (e) {
      if (!(e instanceof DataError)) throw e;
      println(io.stderr, `Error! ${e.message}`);
      return 1;
    }
    if (flagBool(parsed, "base64")) {
      const text = data.toString("utf8").trim();
      if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) {
        println(io.stderr, "Error! Cannot base 64 decode data: illegal base64 data");
        return 1;
      }
      data = Buffer.from(text, "base64");
    }
    const acquire = flagBool(parsed, "acquire");
    const release = flagBool(parsed, "release");
    const cas = flagBool(parsed, "cas");
    const session = flagString(parsed, "session") ?? "";
    const modifyIndex = parseUint(parsed, "modify-index");
    if ((acquire || release) && session === "") {
      println(io.stderr, "Error! Missing -session (required with -acquire and -release)");
      return 1;
    }
    if (cas && modifyIndex === 0) {
      println(io.stderr, "Must specify -modify-index with -cas!");
      return 1;
    }
    const query: Record<string, string | undefined> = { flags: parsed.values.has("flags") ? String(parseUint(parsed, "flags")) : undefined };
    if (cas) query.cas = String(modifyIndex);
    if (acquire) query.acquire = session;
    if (release) query.release = session;
    return withClient(parsed, io, async (client) => {
      const failPrefix = cas ? `Error! Did not write to ${key}` : "Error! Failed writing data";
      const answer = await attempt(io, failPrefix, async () => (await (await client.request(kvPath(key), { method: "PUT", query, body: data })).text()).trim());
      if (answer === undefined) return 1;
      const ok = answer === "true";
      if (cas && !ok) return fail(io, `Error! Did not write to ${key}: CAS failed`);
      if (acquire && !ok) return fail(io, "Error! Did not acquire lock");
      if (release && !ok) return fail(io, "Error! Did not release lock");
      println(io.stdout, acquire ? `Success! Lock acquired on: ${key}` : release ? `Success! Lock released on: ${key}` : `Success! Data written to: ${key}`);
      return 0;
    });
  },
};

function fail(io: CliIo, message: string): number {
  println(io.stderr, message);
  return 1;
}

export const kvDeleteCommand: Command = {
  help: `
Usage: praetor kv delete [options] KEY_OR_PREFIX

  Removes the value from Praetor's key-value store at the given path. If no
  key exists at the path, no action is taken.
`,
  flags: [
    { name: "cas", kind: "bool", usage: "Perform a Check-And-Set operation. Specifying this value also requires the -modify-index flag to be set. The default value is false." },
    { name: "modify-index", kind: "uint", placeholder: "uint", usage: "Unsigned integer representing the ModifyIndex of the key. This is used in combination with the -cas flag." },
    { name: "recurse", kind: "bool", usage: "Recursively delete all keys with the path. The default value is false." },
    ...clientFlags,
  ],
  async run(parsed, io) {
    if (parsed.args.length > 1) return fail(io, `Too many arguments (expected 1, got ${parsed.args.length})`);
    const key = stripSlash(parsed.args[0] ?? "");
    const recurse = flagBool(parsed, "recurse");
    const cas = flagBool(parsed, "cas");
    const modifyIndex = parseUint(parsed, "modify-index");
    if (key === "" && !recurse) return fail(io, "Error! Missing KEY argument");
    if (cas && modifyIndex === 0) return fail(io, "Must specify -modify-index with -cas!");
    if (modifyIndex !== 0 && !cas) return fail(io, "Cannot specify -modify-index without -cas!");
    if (recurse && cas) return fail(io, "Cannot specify both -cas and -recurse!");
    return withClient(parsed, io, async (client) => {
      const prefix = recurse ? `Error! Did not delete prefix ${key}` : cas ? `Error! Did not delete key ${key}` : `Error deleting key ${key}`;
      const query = recurse ? { recurse: "" } : cas ? { cas: String(modifyIndex) } : {};
      const answer = await attempt(io, prefix, async () => (await (await client.request(kvPath(key), { method: "DELETE", query })).text()).trim());
      if (answer === undefined) return 1;
      if (cas && answer !== "true") return fail(io, `Error! Did not delete key ${key}: CAS failed`);
      println(io.stdout, recurse ? `Success! Deleted keys with prefix: ${key}` : `Success! Deleted key: ${key}`);
      return 0;
    });
  },
};

/** Go's json.MarshalIndent(v, "", "\t"), which also escapes <, > and & for HTML. */
function goJsonIndent(value: unknown): string {
  return JSON.stringify(value, null, "\t").replace(/[<>&]/g, (c) => `\\u00${c.charCodeAt(0).toString(16)}`);
}

export const kvExportCommand: Command = {
  help: `
Usage: praetor kv export [KEY_OR_PREFIX]

  Retrieves key-value pairs for the given prefix from Praetor's key-value store,
  and writes a JSON representation to stdout. This can be used with the command
  "praetor kv import" to move entire trees between Praetor clusters.
`,
  flags: [...clientFlags, ...serverFlags],
  async run(parsed, io) {
    if (parsed.args.length > 1) return fail(io, `Too many arguments (expected 1, got ${parsed.args.length})`);
    const key = parsed.args[0] ?? "";
    return withClient(parsed, io, async (client) => {
      const pairs = await attempt(io, "Error querying Praetor agent", () => getOrNull<KvPair[]>(client, kvPath(stripSlash(key)), { recurse: "" }));
      if (pairs === undefined) return 1;
      const exported = (pairs ?? []).map((p) => ({ key: p.Key, flags: p.Flags, value: p.Value ?? "" }));
      println(io.stdout, goJsonIndent(exported));
      return 0;
    });
  },
};

export const kvImportCommand: Command = {
  help: `
Usage: praetor kv import [DATA]

  Imports key-value pairs to the key-value store from the JSON representation
  generated by the "praetor kv export" command. DATA is the JSON itself,
  "@file" to read it from a file, or "-" to read it from stdin.
`,
  flags: [
    { name: "prefix", kind: "string", placeholder: "string", usage: "Key prefix for imported data. The default value is empty meaning root of the key-value store." },
    ...clientFlags,
  ],
  async run(parsed, io) {
    if (parsed.args.length === 0) return fail(io, "Error! Missing DATA argument");
    if (parsed.args.length > 1) return fail(io, `Error! Too many arguments (expected 1, got ${parsed.args.length})`);
    let entries: unknown;
    try {
      entries = JSON.parse((await readData(parsed.args[0]!, io)).toString("utf8"));
    } catch (e) {
      if (e instanceof DataError) return fail(io, `Error! ${e.message}`);
      return fail(io, `Cannot unmarshal data: ${(e as Error).message}`);
    }
    if (!Array.isArray(entries) || !entries.every((x) => typeof x === "object" && x !== null && typeof x.key === "string")) {
      return fail(io, 'Cannot unmarshal data: expected a JSON list of {"key", "flags", "value"} objects, as kv export writes');
    }
    const prefix = flagString(parsed, "prefix") ?? "";
    return withClient(parsed, io, async (client) => {
      for (const entry of entries as { key: string; flags?: unknown; value?: unknown }[]) {
        const value = typeof entry.value === "string" ? entry.value : "";
        if (!/^[A-Za-z0-9+/]*={0,2}$/.test(value) || value.length % 4 !== 0) return fail(io, `Error base 64 decoding value for key ${entry.key}: illegal base64 data`);
        const flags = Number.isSafeInteger(entry.flags) && (entry.flags as number) >= 0 ? (entry.flags as number) : 0;
        const key = prefix === "" ? entry.key : `${prefix.replace(/\/+$/, "")}/${entry.key.replace(/^\/+/, "")}`;
        const ok = await attempt(io, `Error! Failed writing data for key ${key}`, () => client.request(kvPath(key), { method: "PUT", query: { flags: String(flags) }, body: Buffer.from(value, "base64") }));
        if (ok === undefined) return 1;
        println(io.stdout, `Imported: ${key}`);
      }
      return 0;
    });
  },
};
