/**
 * A tiny driver for catalog tests: each call applies one command at the next Raft index with
 * the script's leader time, so tests read as scripts ("register n1, lock k, advance 15 s").
 */
import { Catalog, encodeCommand, utf8Text, type ApplyResult, type Command, type CommandError } from "./imports.ts";

type Body<C> = C extends Command ? Omit<C, "v" | "nowMs"> : never;
export type CommandBody = Body<Command>;

export class Script {
  readonly catalog: Catalog;
  index = 0;
  nowMs = 1_000_000;

  constructor(catalog = new Catalog()) {
    this.catalog = catalog;
  }

  /** Applies a command (through the byte encoding, as Raft would) at the next index. */
  run(body: CommandBody): ApplyResult {
    const command = { v: 1, nowMs: this.nowMs, ...body } as Command;
    if (command.op === "tombstone.reap") delete (command as { nowMs?: number }).nowMs;
    return this.catalog.applyBytes(encodeCommand(command), ++this.index);
  }

  /** Applies and returns the value, failing the test on an error result. */
  ok(body: CommandBody): unknown {
    const result = this.run(body);
    if (!result.ok) throw new Error(`${body.op} refused: ${JSON.stringify(result.error)}`);
    return result.value;
  }

  /** Applies and returns the error, failing the test on success. */
  err(body: CommandBody): CommandError {
    const result = this.run(body);
    if (result.ok) throw new Error(`${body.op} unexpectedly succeeded: ${JSON.stringify(result.value)}`);
    return result.error;
  }

  advance(ms: number): void {
    this.nowMs += ms;
  }

  /** A node with a passing serfHealth check, as Consul's leader registers every member. */
  node(name: string, extra: Partial<Extract<CommandBody, { op: "catalog.register" }>> = {}): void {
    this.ok({
      op: "catalog.register", Node: name, Address: `10.0.0.${name.length}`,
      Checks: [{ CheckID: "serfHealth", Name: "Serf Health Status", Status: "passing" }], ...extra,
    });
  }

  service(node: string, service: string, extra: Record<string, unknown> = {}, checks: Record<string, unknown>[] = []): void {
    this.ok({
      op: "catalog.register", Node: node, Address: `10.0.0.${node.length}`, SkipNodeUpdate: true,
      Service: { Service: service, ...extra }, Checks: checks,
    } as CommandBody);
  }

  session(id: string, node: string, extra: Record<string, unknown> = {}): void {
    this.ok({ op: "session.create", ID: id, Node: node, ...extra } as CommandBody);
  }

  set(key: string, value: string, extra: Record<string, unknown> = {}): unknown {
    return this.ok({ op: "kv", Verb: "set", Key: key, Value: new TextEncoder().encode(value), ...extra } as CommandBody);
  }

  lock(key: string, session: string, value = "held"): unknown {
    return this.ok({ op: "kv", Verb: "lock", Key: key, Session: session, Value: new TextEncoder().encode(value) });
  }

  unlock(key: string, session: string, value = "free"): unknown {
    return this.ok({ op: "kv", Verb: "unlock", Key: key, Session: session, Value: new TextEncoder().encode(value) });
  }

  value(key: string): string | null {
    const entry = this.catalog.kvGet(key).value;
    return entry === null ? null : utf8Text(entry.Value);
  }
}
