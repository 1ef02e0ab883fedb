/** The server RPC port: Raft between servers and request forwarding, over one TCP port (8300). */
export { RpcServer, rpcPortDefault, type RpcHandler, type RpcMeta, type RpcServerOptions, type RpcServerCounters } from "./server.ts";
export { RpcClient, type CallOptions, type RpcClientOptions } from "./client.ts";
export { RaftTcpTransport, type RaftTcpTransportOptions, type RaftTransportCounters, type RaftDropReason } from "./raft-transport.ts";
export { RpcError, RpcBindError, RpcStatus, type RpcErrorKind } from "./errors.ts";
export { FrameDecoder, FrameError, FrameKind, StreamType, encodeFrame, encodeMessageFrames, framePayloadBytesDefault, type FrameErrorReason } from "./frame.ts";
export { backoffDelayMs, type BackoffConfig } from "./backoff.ts";
export type { Logger, LogLevel } from "./conn.ts";
