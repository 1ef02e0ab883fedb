/**
 * Consul's KV `Flags` is a uint64, and clients use the whole range: the Go api's Lock and
 * Semaphore mark their keys with 0x2ddccbc058a50c18 and 0xe0f69a2baa414de0. A JavaScript number
 * holds integers exactly only up to 2^53 - 1, so a larger value is a bigint; each value has one
 * form (a number whenever it fits), so `===` compares flags. msgpack (commands, snapshots)
 * carries a bigint as its decimal string, which `parseKvFlags` reads back.
 */
export type KvFlags = number | bigint;

const uint64Max = (1n << 64n) - 1n;

/** The canonical flags for a number, bigint or decimal string; undefined when it is not a uint64. */
export function parseKvFlags(value: unknown): KvFlags | undefined {
  let big: bigint;
  if (typeof value === "number") {
    // A JSON number above 2^53 arrives already rounded: refuse it rather than store another value.
    return Number.isSafeInteger(value) && value >= 0 ? value : undefined;
  } else if (typeof value === "bigint") {
    big = value;
  } else if (typeof value === "string" && /^\d{1,20}$/.test(value)) {
    big = BigInt(value);
  } else {
    return undefined;
  }
  if (big < 0n || big > uint64Max) return undefined;
  return big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big;
}

/** The flags as msgpack can carry them: a bigint as its decimal string. */
export function kvFlagsWire(flags: KvFlags): number | string {
  return typeof flags === "bigint" ? flags.toString() : flags;
}
