import type { StateMachine } from "../../src/agent/raft-host.ts";
import type { Entry } from "../../src/core/raft/types.ts";
import { assert } from "../../src/core/util/assert.ts";
import type { KvResult } from "../checkers/history.ts";

/** A write as it travels through the Raft log. */
export type KvCommand =
  | { readonly kind: "put"; readonly key: string; readonly value: string }
  | { readonly kind: "cas"; readonly key: string; readonly expected: string | null; readonly value: string }
  | { readonly kind: "delete"; readonly key: string };

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeCommand(command: KvCommand): Uint8Array {
  return encoder.encode(JSON.stringify(command));
}

export function decodeCommand(data: Uint8Array): KvCommand {
  const parsed = JSON.parse(decoder.decode(data)) as KvCommand;
  assert(parsed.kind === "put" || parsed.kind === "cas" || parsed.kind === "delete", `unknown KV command ${String((parsed as { kind?: unknown }).kind)}`);
  return parsed;
}

/** The simulator's replicated key-value store: deterministic, with a canonical snapshot. */
export class KvStateMachine implements StateMachine<KvResult> {
  private readonly data = new Map<string, string>();

  get(key: string): string | null {
    return this.data.get(key) ?? null;
  }

  apply(entry: Entry): KvResult {
    const command = decodeCommand(entry.data);
    switch (command.kind) {
      case "put":
        this.data.set(command.key, command.value);
        return { kind: "ok" };
      case "delete":
        this.data.delete(command.key);
        return { kind: "ok" };
      case "cas": {
        const swapped = this.get(command.key) === command.expected;
        if (swapped) this.data.set(command.key, command.value);
        return { kind: "cas", swapped };
      }
    }
  }

  snapshot(): Uint8Array {
    const sorted = [...this.data.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return encoder.encode(JSON.stringify(sorted));
  }

  restore(data: Uint8Array): void {
    this.data.clear();
    for (const [key, value] of JSON.parse(decoder.decode(data)) as [string, string][]) this.data.set(key, value);
  }
}
