/**
 * The optional native UDP fast path (native/dns-fast, a C addon built by `npm run build:native`):
 * a socket whose receive loop runs on its own thread with recvmmsg/sendmmsg and answers, from
 * copies of the handler's answer templates (fast.ts), the questions the JavaScript fast path
 * would answer, byte for byte the same but for the shuffle's draws. Every other datagram comes
 * back to JavaScript unchanged, where the handler answers it and `send` writes the answer.
 *
 * Node's dgram costs a libuv callback and a JavaScript call per datagram, which caps any
 * JavaScript DNS server near a bare echo server (bench/dns.ts prints both); the addon batches 64
 * datagrams a system call and never enters JavaScript for a cached answer. (Cluster workers
 * sharing one UDP handle were measured too: two echo workers reach about 1.7x one, but each is a
 * whole process with its own copy of the templates fed over IPC, on machines where the catalog's
 * own process already wants a core.)
 *
 *   const binding = loadNativeDns();          // a binding, or the reason there is none
 *   const socket = NativeUdpSocket.open(binding, "127.0.0.1", 8600, 4 << 20);
 *   const detach = handler.fastPath.attach(socket);
 *   socket.start((datagram, remote) => ... socket.send(answer, remote));
 *
 * Without the addon (not built, no compiler, another platform, a build that does not load) or
 * with PRAETOR_DNS_NATIVE=0, the server answers UDP in JavaScript as before.
 */
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import type { CachedRead } from "./cache.ts";
import type { Template } from "./fast.ts";
import type { TemplateSink } from "./handler.ts";

type Handle = object;

export interface NativeUdpStats {
  /** Answered by the addon's thread without JavaScript. */
  readonly answered: number;
  readonly truncated: number;
  readonly handedToJs: number;
  /** Datagrams dropped because JavaScript had 4096 waiting already. */
  readonly handoffDrops: number;
  readonly sendErrors: number;
  readonly templates: number;
}

export interface NativeDnsBinding {
  open(host: string, port: number, receiveBufferBytes: number): { handle: Handle; port: number };
  start(handle: Handle, onDatagram: (datagram: Buffer, remote: Buffer) => void): void;
  send(handle: Handle, datagram: Buffer, remote: Buffer): number;
  configure(handle: Handle, udpAnswerLimit: number, enableTruncate: boolean, recursionAvailable: boolean): void;
  setTemplate(handle: Handle, qtype: number, name: Buffer, sourceId: number, expiresInMs: number, blob: Buffer): void;
  deleteTemplate(handle: Handle, qtype: number, name: Buffer): void;
  dropSource(handle: Handle, sourceId: number): void;
  clear(handle: Handle): void;
  stats(handle: Handle): NativeUdpStats;
  close(handle: Handle): void;
}

const addonPath = "native/dns-fast/build/Release/dns_fast.node";

let loaded: NativeDnsBinding | string | undefined;

/** The addon, or why it is not there (one short clause, for the server's single log line). */
export function loadNativeDns(): NativeDnsBinding | string {
  if (loaded !== undefined) return loaded;
  if (process.env["PRAETOR_DNS_NATIVE"] === "0") return (loaded = "turned off by PRAETOR_DNS_NATIVE=0");
  if (process.platform !== "linux") return (loaded = `not available on ${process.platform}`);
  // This file runs from src/dns (tsx) or dist/src/dns (built): the addon sits under the package root.
  // PRAETOR_DNS_NATIVE_ADDON names another build (tests use it to load a broken one).
  const override = process.env["PRAETOR_DNS_NATIVE_ADDON"];
  const candidates = override !== undefined && override !== "" ? [override] : ["../../", "../../../"].map((up) => fileURLToPath(new URL(up + addonPath, import.meta.url)));
  const path = candidates.find((candidate) => existsSync(candidate));
  if (path === undefined) return (loaded = `not built (${addonPath} missing: node native/build.mjs in the package builds it)`);
  try {
    loaded = createRequire(import.meta.url)(path) as NativeDnsBinding;
  } catch (error) {
    loaded = `failed to load ${path}: ${error instanceof Error ? error.message : String(error)}`;
  }
  return loaded;
}

/** The template as dns_fast.c's tmpl_parse reads it (little-endian, checked whole there). */
export function encodeTemplate(template: Template): Buffer {
  let size = 20;
  for (const item of template.items) size += 12 + (item?.rr.length ?? 0);
  for (const glue of template.glue) size += 4 + glue.length;
  const out = Buffer.alloc(size);
  out.writeUInt32LE(template.items.length, 0);
  out.writeUInt32LE(template.glue.length, 4);
  out.writeUInt32LE(template.distinct, 8);
  out.writeUInt32LE(template.boundAllBytes, 12);
  out.writeUInt32LE(template.boundLimitedBytes, 16);
  let at = 20;
  for (const item of template.items) {
    out.writeInt32LE(item?.dedupe ?? -1, at);
    out.writeInt32LE(item?.glue ?? -1, at + 4);
    out.writeUInt32LE(item?.rr.length ?? 0, at + 8);
    at += 12;
    if (item !== null && item !== undefined) at += item.rr.copy(out, at);
  }
  for (const glue of template.glue) {
    out.writeUInt32LE(glue.length, at);
    at += 4 + glue.copy(out, at + 4);
  }
  return out;
}

// Ids for cached reads, shared by every socket: a template in C names its source by number.
const sourceIds = new WeakMap<CachedRead, number>();
let nextSourceId = 1;
const encoded = new WeakMap<Template, Buffer>();

/** One native UDP socket; as a TemplateSink it keeps the C copies of a handler's templates. */
export class NativeUdpSocket implements TemplateSink {
  private closed = false;
  /** Templates the addon would not take (answered in JavaScript instead). */
  refused = 0;

  private constructor(private readonly binding: NativeDnsBinding, private readonly handle: Handle, readonly port: number) {}

  /** Binds host:port (0: any free port); throws an Error whose `code` is the errno's name. */
  static open(binding: NativeDnsBinding, host: string, port: number, receiveBufferBytes: number): NativeUdpSocket {
    const { handle, port: bound } = binding.open(host, port, receiveBufferBytes);
    return new NativeUdpSocket(binding, handle, bound);
  }

  configure(options: { readonly udpAnswerLimit: number; readonly enableTruncate: boolean; readonly recursionAvailable: boolean }): void {
    this.binding.configure(this.handle, options.udpAnswerLimit, options.enableTruncate, options.recursionAvailable);
  }

  /** Starts the receive thread; each datagram it does not answer reaches `onDatagram` on this thread. */
  start(onDatagram: (datagram: Buffer, remote: Buffer) => void): void {
    this.binding.start(this.handle, onDatagram);
  }

  /** Sends without blocking; returns 0 or the errno number. */
  send(datagram: Buffer, remote: Buffer): number {
    return this.closed ? 0 : this.binding.send(this.handle, datagram, remote);
  }

  set(qtype: number, nameKey: string, template: Template, expiresInMs: number): void {
    if (this.closed) return;
    let id = sourceIds.get(template.source);
    if (id === undefined) sourceIds.set(template.source, (id = nextSourceId++));
    let blob = encoded.get(template);
    if (blob === undefined) encoded.set(template, (blob = encodeTemplate(template)));
    try {
      this.binding.setTemplate(this.handle, qtype, Buffer.from(nameKey, "latin1"), id, expiresInMs, blob);
    } catch {
      // The addon refused the copy: without it the question comes to JavaScript, which answers it.
      this.refused++;
    }
  }

  delete(qtype: number, nameKey: string): void {
    if (!this.closed) this.binding.deleteTemplate(this.handle, qtype, Buffer.from(nameKey, "latin1"));
  }

  clear(): void {
    if (!this.closed) this.binding.clear(this.handle);
  }

  dropSource(source: CachedRead): void {
    const id = sourceIds.get(source);
    if (id !== undefined && !this.closed) this.binding.dropSource(this.handle, id);
  }

  stats(): NativeUdpStats {
    return this.binding.stats(this.handle);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.binding.close(this.handle);
  }
}
