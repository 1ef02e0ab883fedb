/** What every probe (script, HTTP, TCP, UDP) takes and gives back. */
import type { CheckResultStatus } from "../../core/checks/types.ts";

export interface ProbeOptions {
  /** The kind's timeout, already defaulted: the probe gives up (and kills what it started) after it. */
  readonly timeoutMs: number;
  /** Output kept, in bytes (Consul's 4 KiB unless the check or agent asks for less). */
  readonly outputMaxBytes: number;
  /** Aborted when the check is removed or the runner stops: the probe ends at once. */
  readonly signal: AbortSignal;
}

export interface ProbeResult {
  readonly status: CheckResultStatus;
  readonly output: string;
  /**
   * Reported without the success/failure thresholds, as Consul reports a script killed at its
   * timeout straight to the agent's state.
   */
  readonly direct?: boolean;
}

/** Go's `net.SplitHostPort`, with its error texts. */
export function splitHostPort(address: string): { host: string; port: number } | { error: string } {
  let host: string;
  let portText: string;
  if (address.startsWith("[")) {
    const close = address.indexOf("]");
    if (close < 0) return { error: `address ${address}: missing ']' in address` };
    host = address.slice(1, close);
    if (address[close + 1] !== ":") return { error: `address ${address}: missing port in address` };
    portText = address.slice(close + 2);
  } else {
    const colon = address.lastIndexOf(":");
    if (colon < 0) return { error: `address ${address}: missing port in address` };
    host = address.slice(0, colon);
    if (host.includes(":")) return { error: `address ${address}: too many colons in address` };
    portText = address.slice(colon + 1);
  }
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port > 65535) return { error: `address ${address}: invalid port` };
  return { host: host === "" ? "localhost" : host, port };
}

/** "host:port", bracketing IPv6 literals, as Go prints addresses. */
export function joinHostPort(host: string, port: number | string): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Node's socket errors in Go's words, so outputs read as Consul's do. */
export function goSocketError(op: "dial tcp" | "read udp", address: string, err: NodeJS.ErrnoException & { address?: string; port?: number; hostname?: string }): string {
  const where = err.address !== undefined && err.port !== undefined ? joinHostPort(err.address, err.port) : address;
  switch (err.code) {
    case "ECONNREFUSED":
      return op === "dial tcp" ? `dial tcp ${where}: connect: connection refused` : `read udp ${where}: read: connection refused`;
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return `${op.split(" ")[0]} ${op.split(" ")[1]}: lookup ${err.hostname ?? address}: no such host`;
    case "ETIMEDOUT":
      return `${op} ${where}: i/o timeout`;
    case "EHOSTUNREACH":
      return `${op} ${where}: connect: no route to host`;
    case "ENETUNREACH":
      return `${op} ${where}: connect: network is unreachable`;
    case "ECONNRESET":
      return `${op} ${where}: connection reset by peer`;
    default:
      return `${op} ${where}: ${err.message}`;
  }
}
