/**
 * Forwarding questions outside the zone to `-recursor` servers, as Consul's handleRecurse: each
 * recursor in turn, over the client's transport (a UDP answer with TC is asked again over TCP),
 * each attempt bounded by `recursor_timeout`. An answer other than NOERROR or NXDOMAIN moves on to
 * the next recursor. The query goes out as the client sent it, under a fresh ID from its own
 * socket, and the answer comes back under the client's ID.
 */
import dgram from "node:dgram";
import net from "node:net";
import type { RecursorAddress } from "./config.ts";
import { headerBytes, RCODE } from "./wire.ts";

export type ForwardOutcome =
  | { readonly ok: true; readonly response: Buffer; readonly recursor: string }
  | { readonly ok: false; readonly failures: readonly string[] };

export interface ForwardOptions {
  readonly recursors: readonly RecursorAddress[];
  readonly timeoutMs: number;
  readonly transport: "udp" | "tcp";
  /** A 16-bit ID for each upstream query. */
  readonly nextId: () => number;
}

/** The answer matches what we asked: our ID, a response, and our question (when it carries one). */
function validAnswer(response: Buffer, sent: Buffer, questionEnd: number): string | null {
  if (response.length < headerBytes) return `answer of ${response.length} bytes is shorter than a header`;
  if (response.readUInt16BE(0) !== sent.readUInt16BE(0)) return "answer ID does not match";
  if ((response[2]! & 0x80) === 0) return "answer is not a response";
  const qdcount = response.readUInt16BE(4);
  if (qdcount === 1) {
    const question = sent.subarray(headerBytes, questionEnd);
    const echoed = response.subarray(headerBytes, questionEnd);
    if (!Buffer.from(echoed).equals(question) && Buffer.from(echoed).toString("latin1").toLowerCase() !== question.toString("latin1").toLowerCase()) {
      return "answer is for another question";
    }
  }
  return null;
}

function exchangeUdp(recursor: RecursorAddress, query: Buffer, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket(net.isIPv6(recursor.host) ? "udp6" : "udp4");
    const timer = setTimeout(() => finish(new Error(`no answer over UDP within ${timeoutMs} ms`)), timeoutMs);
    let done = false;
    function finish(error: Error | null, message?: Buffer): void {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.close();
      if (error !== null) reject(error);
      else resolve(message!);
    }
    socket.on("error", (error) => finish(error));
    socket.on("message", (message, remote) => {
      // Only the recursor we asked, with our ID; anything else is ignored (spoofing, strays).
      if (remote.port !== recursor.port || message.length < 2 || message.readUInt16BE(0) !== query.readUInt16BE(0)) return;
      finish(null, message);
    });
    socket.send(query, recursor.port, recursor.host, (error) => {
      if (error) finish(error);
    });
  });
}

function exchangeTcp(recursor: RecursorAddress, query: Buffer, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: recursor.host, port: recursor.port });
    const timer = setTimeout(() => finish(new Error(`no answer over TCP within ${timeoutMs} ms`)), timeoutMs);
    let buffered: Buffer = Buffer.alloc(0);
    let done = false;
    function finish(error: Error | null, message?: Buffer): void {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      if (error !== null) reject(error);
      else resolve(message!);
    }
    socket.on("error", (error) => finish(error));
    socket.on("close", () => finish(new Error("connection closed before an answer")));
    socket.on("data", (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (buffered.length < 2) return;
      const length = buffered.readUInt16BE(0);
      if (buffered.length >= 2 + length) finish(null, buffered.subarray(2, 2 + length));
    });
    const frame = Buffer.alloc(2 + query.length);
    frame.writeUInt16BE(query.length, 0);
    query.copy(frame, 2);
    socket.write(frame);
  });
}

const truncatedBit = 0x02; // TC in the third header byte

/** Asks the recursors in turn; never rejects. `questionEnd` is where the question ends in `query`. */
export async function forwardQuery(query: Buffer, questionEnd: number, options: ForwardOptions): Promise<ForwardOutcome> {
  const failures: string[] = [];
  const clientId = query.readUInt16BE(0);
  for (const recursor of options.recursors) {
    const sent = Buffer.from(query);
    sent.writeUInt16BE(options.nextId() & 0xffff, 0);
    try {
      let response = options.transport === "tcp"
        ? await exchangeTcp(recursor, sent, options.timeoutMs)
        : await exchangeUdp(recursor, sent, options.timeoutMs);
      if (options.transport === "udp" && response.length >= headerBytes && (response[2]! & truncatedBit) !== 0) {
        response = await exchangeTcp(recursor, sent, options.timeoutMs);
      }
      const invalid = validAnswer(response, sent, questionEnd);
      if (invalid !== null) {
        failures.push(`${recursor.text}: ${invalid}`);
        continue;
      }
      const rcode = response[3]! & 0xf;
      if (rcode !== RCODE.NOERROR && rcode !== RCODE.NXDOMAIN) {
        failures.push(`${recursor.text}: answered rcode ${rcode}`);
        continue;
      }
      const answer = Buffer.from(response);
      answer.writeUInt16BE(clientId, 0);
      return { ok: true, response: answer, recursor: recursor.text };
    } catch (error) {
      failures.push(`${recursor.text}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  return { ok: false, failures };
}
