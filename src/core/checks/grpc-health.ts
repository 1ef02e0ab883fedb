/**
 * The bytes of the standard gRPC health protocol (`grpc.health.v1.Health/Check`), which Consul's
 * gRPC checks speak: a length-prefixed protobuf `HealthCheckRequest { string service = 1; }` goes
 * out, a `HealthCheckResponse { ServingStatus status = 1; }` comes back. Pure: no sockets here.
 */
import { assert } from "../util/assert.ts";

export const grpcHealthPath = "/grpc.health.v1.Health/Check";

/** `ServingStatus` enum names, as Go prints them in Consul's output. */
export const servingStatusNames: Record<number, string> = { 0: "UNKNOWN", 1: "SERVING", 2: "NOT_SERVING", 3: "SERVICE_UNKNOWN" };

/** gRPC status code names, as Go's `codes.Code.String()` prints them. */
export const grpcCodeNames: readonly string[] = [
  "OK", "Canceled", "Unknown", "InvalidArgument", "DeadlineExceeded", "NotFound", "AlreadyExists", "PermissionDenied",
  "ResourceExhausted", "FailedPrecondition", "Aborted", "OutOfRange", "Unimplemented", "Internal", "Unavailable",
  "DataLoss", "Unauthenticated",
];

/** Consul's gRPC target: `host:port[/service]`; no service asks about the whole server. */
export function splitGrpcTarget(target: string): { server: string; service: string } {
  const slash = target.indexOf("/");
  return slash < 0 ? { server: target, service: "" } : { server: target.slice(0, slash), service: target.slice(slash + 1) };
}

function varint(value: number): number[] {
  assert(Number.isInteger(value) && value >= 0, `varint of ${value}`);
  const out: number[] = [];
  let v = value;
  while (v >= 0x80) {
    out.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return out;
}

/** One gRPC message frame: flag 0 (uncompressed), a 4-byte big-endian length, the message. */
export function encodeHealthCheckRequest(service: string): Uint8Array {
  const name = new TextEncoder().encode(service);
  const message = service === "" ? [] : [0x0a, ...varint(name.length), ...name];
  const frame = new Uint8Array(5 + message.length);
  new DataView(frame.buffer).setUint32(1, message.length);
  frame.set(message, 5);
  return frame;
}

/**
 * The serving status in a response body (one frame), or an error text for a body that is not
 * one. Unknown fields are skipped as protobuf requires; a missing status field is 0 (UNKNOWN).
 */
export function decodeHealthCheckResponse(body: Uint8Array): { status: number } | { error: string } {
  if (body.length < 5) return { error: `response of ${body.length} bytes is shorter than a gRPC frame header` };
  if (body[0] !== 0) return { error: "compressed gRPC responses are not supported" };
  const length = new DataView(body.buffer, body.byteOffset, body.byteLength).getUint32(1);
  if (body.length < 5 + length) return { error: `gRPC frame says ${length} bytes but ${body.length - 5} came` };
  const message = body.subarray(5, 5 + length);
  let status = 0;
  let at = 0;
  const readVarint = (): number | null => {
    let value = 0;
    for (let shift = 0; shift < 64; shift += 7) {
      if (at >= message.length) return null;
      const byte = message[at++]!;
      value += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) return value;
    }
    return null;
  };
  while (at < message.length) {
    const key = readVarint();
    if (key === null) return { error: "truncated protobuf field key" };
    const field = Math.floor(key / 8);
    const wire = key % 8;
    if (wire === 0) {
      const value = readVarint();
      if (value === null) return { error: "truncated protobuf varint" };
      if (field === 1) status = value;
    } else if (wire === 2) {
      const len = readVarint();
      if (len === null || at + len > message.length) return { error: "truncated protobuf bytes field" };
      at += len;
    } else if (wire === 1 || wire === 5) {
      at += wire === 1 ? 8 : 4;
      if (at > message.length) return { error: "truncated protobuf fixed field" };
    } else {
      return { error: `unsupported protobuf wire type ${wire}` };
    }
  }
  return { status };
}
