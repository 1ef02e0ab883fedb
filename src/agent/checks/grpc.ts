/**
 * gRPC checks: the standard health service (`grpc.health.v1.Health/Check`) over HTTP/2,
 * cleartext unless `grpc_use_tls`. SERVING is passing (`gRPC check <target>: success`); any other
 * serving status, gRPC error or connection failure is critical, in the words Go's gRPC client
 * and Consul use. The timeout (default 10 s) covers connecting and the call.
 */
import http2 from "node:http2";
import {
  decodeHealthCheckResponse, encodeHealthCheckRequest, grpcCodeNames, grpcHealthPath, servingStatusNames, splitGrpcTarget,
} from "../../core/checks/grpc-health.ts";
import type { CheckProbe } from "../../core/checks/types.ts";
import { goSocketError, splitHostPort, type ProbeOptions, type ProbeResult } from "./probe.ts";

type GrpcProbe = Extract<CheckProbe, { kind: "grpc" }>;

export const grpcTimeoutMsDefault = 10_000;

const rpcError = (code: number, desc: string): string => `rpc error: code = ${grpcCodeNames[code] ?? `Code(${code})`} desc = ${desc}`;

export function runGrpc(probe: GrpcProbe, options: ProbeOptions): Promise<ProbeResult> {
  const { server, service } = splitGrpcTarget(probe.target);
  const address = splitHostPort(server);
  if ("error" in address) return Promise.resolve({ status: "critical", output: rpcError(14, `dial tcp: ${address.error}`) });
  const host = address.host.includes(":") ? `[${address.host}]` : address.host;
  return new Promise((resolve) => {
    let settled = false;
    const session = http2.connect(`${probe.useTls ? "https" : "http"}://${host}:${address.port}`, probe.useTls ? { rejectUnauthorized: !probe.tlsSkipVerify } : {});
    const finish = (result: ProbeResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal.removeEventListener("abort", onAbort);
      session.destroy();
      resolve(result);
    };
    const onAbort = (): void => finish({ status: "critical", output: "check stopped" });
    const timer = setTimeout(() => finish({ status: "critical", output: rpcError(4, "context deadline exceeded") }), options.timeoutMs);
    options.signal.addEventListener("abort", onAbort, { once: true });
    if (options.signal.aborted) onAbort();
    // A refused dial surfaces on the session, or first on the stream as a cancel caused by it.
    const onFailure = (err: NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException }): void => {
      const dial = err.code === "ERR_HTTP2_STREAM_CANCEL" && err.cause !== undefined ? err.cause : err;
      if (dial.code !== undefined && /^E[A-Z]+$/.test(dial.code)) {
        const cause = goSocketError("dial tcp", server, dial);
        finish({ status: "critical", output: rpcError(14, `connection error: desc = "transport: Error while dialing: ${cause}"`) });
      } else {
        finish({ status: "critical", output: rpcError(14, dial.message) });
      }
    };
    session.on("error", onFailure);
    const stream = session.request({
      ":method": "POST", ":path": grpcHealthPath, "content-type": "application/grpc", te: "trailers", "user-agent": "Consul Health Check",
    });
    const chunks: Uint8Array[] = [];
    let grpcStatus: number | null = null;
    let grpcMessage = "";
    const readStatus = (headers: http2.IncomingHttpHeaders): void => {
      const status = headers["grpc-status"];
      if (status !== undefined) grpcStatus = Number(status);
      const message = headers["grpc-message"];
      if (typeof message === "string") grpcMessage = decodeURIComponent(message);
    };
    stream.on("response", (headers) => {
      const httpStatus = Number(headers[":status"]);
      if (httpStatus !== 200) {
        finish({ status: "critical", output: rpcError(12, `unexpected HTTP status code received from server: ${httpStatus}`) });
        return;
      }
      readStatus(headers);
    });
    stream.on("trailers", readStatus);
    stream.on("data", (chunk: Uint8Array) => chunks.push(chunk));
    stream.on("error", onFailure);
    stream.on("end", () => finish(conclude(probe.target, grpcStatus, grpcMessage, Buffer.concat(chunks))));
    stream.end(encodeHealthCheckRequest(service));
  });
}

function conclude(target: string, grpcStatus: number | null, grpcMessage: string, body: Uint8Array): ProbeResult {
  if (grpcStatus === null) return { status: "critical", output: rpcError(13, "server closed the stream without sending trailers") };
  if (grpcStatus !== 0) return { status: "critical", output: rpcError(grpcStatus, grpcMessage) };
  const decoded = decodeHealthCheckResponse(body);
  if ("error" in decoded) return { status: "critical", output: rpcError(13, decoded.error) };
  if (decoded.status !== 1) {
    return { status: "critical", output: `gRPC ${target} serving status: ${servingStatusNames[decoded.status] ?? String(decoded.status)}` };
  }
  return { status: "passing", output: `gRPC check ${target}: success` };
}
