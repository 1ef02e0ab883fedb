/**
 * Errors a caller of the RPC port sees. `kind` tells a caller whether it may retry elsewhere:
 * `unreachable` means the request never left (safe to send to another server); `disconnected`
 * and `timeout` mean it may or may not have run; `remote` is the handler's own answer.
 */
export type RpcErrorKind = "remote" | "unreachable" | "disconnected" | "timeout" | "cancelled" | "closed" | "encode";

export class RpcError extends Error {
  override name = "RpcError";
  /**
   * @param status an HTTP-like status: the handler's (4xx/5xx), 503 when the server could not be
   *   reached or dropped the connection, 504 on timeout.
   */
  constructor(readonly status: number, message: string, readonly kind: RpcErrorKind = "remote") {
    super(message);
  }
}

/** Statuses used by the transport itself. */
export const RpcStatus = {
  badRequest: 400,
  unknownMethod: 404,
  tooManyRequests: 429,
  internal: 500,
  unavailable: 503,
  timeout: 504,
} as const;

/** The RPC port could not be bound; the message names the address and what to do. */
export class RpcBindError extends Error {
  override name = "RpcBindError";
  constructor(readonly host: string, readonly port: number, readonly code: string, message: string) {
    super(message);
  }
}

export function bindErrorFor(host: string, port: number, err: NodeJS.ErrnoException): RpcBindError {
  const code = err.code ?? "UNKNOWN";
  const where = `server RPC port ${port} on ${host}`;
  const hints: Record<string, string> = {
    EADDRINUSE: `${where} is already in use (EADDRINUSE): another agent or program is listening there; stop it or choose another server port`,
    EADDRNOTAVAIL: `${where} cannot be bound (EADDRNOTAVAIL): ${host} is not an address of this machine; choose a local bind address`,
    EACCES: `${where} cannot be bound (EACCES): permission denied; ports below 1024 need privileges, choose a higher server port`,
  };
  return new RpcBindError(host, port, code, hints[code] ?? `${where} cannot be bound (${code}): ${err.message}`);
}
