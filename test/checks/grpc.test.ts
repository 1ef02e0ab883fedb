import test from "ava";
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import {
  decodeHealthCheckResponse, encodeHealthCheckRequest, splitGrpcTarget,
} from "../../src/core/checks/index.ts";
import { runGrpc } from "../../src/agent/checks/grpc.ts";
import { def, signalNever, testRunner, waitFor } from "./helpers.ts";

const opts = { timeoutMs: 10_000, outputMaxBytes: 4096, signal: signalNever };

/** A HealthCheckResponse frame with the given status (field 1, varint). */
function responseFrame(status: number): Uint8Array {
  return new Uint8Array([0, 0, 0, 0, 2, 0x08, status]);
}

/**
 * A loopback gRPC health server: the service named in the request picks the answer
 * ("" and "web" SERVING, "db" NOT_SERVING, "gone" an Unimplemented error, "mute" no answer).
 */
async function healthServer(t: { teardown(fn: () => unknown): void }, state = { dbServing: false }): Promise<{ address: string; asked: string[] }> {
  const asked: string[] = [];
  const server = http2.createServer();
  server.on("stream", (stream, headers) => {
    const chunks: Uint8Array[] = [];
    stream.on("data", (c: Uint8Array) => chunks.push(c));
    stream.on("end", () => {
      const body = Buffer.concat(chunks);
      const service = body.length > 7 ? body.subarray(7).toString() : "";
      asked.push(`${headers[":path"]} ${JSON.stringify(service)} ${headers["content-type"]}`);
      if (service === "mute") return;
      if (service === "gone") {
        stream.respond({ ":status": 200, "content-type": "application/grpc", "grpc-status": "12", "grpc-message": "unknown service grpc.health.v1.Health" }, { endStream: true });
        return;
      }
      stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
      stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
      stream.end(responseFrame(service === "db" && !state.dbServing ? 2 : 1));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { address: `127.0.0.1:${(server.address() as AddressInfo).port}`, asked };
}

test("grpc health bytes: request frames carry the service name; responses decode the status and skip unknown fields", (t) => {
  t.deepEqual([...encodeHealthCheckRequest("")], [0, 0, 0, 0, 0]);
  t.deepEqual([...encodeHealthCheckRequest("web")], [0, 0, 0, 0, 5, 0x0a, 3, 0x77, 0x65, 0x62]);
  t.deepEqual(decodeHealthCheckResponse(responseFrame(1)), { status: 1 });
  t.deepEqual(decodeHealthCheckResponse(new Uint8Array([0, 0, 0, 0, 0])), { status: 0 }, "an empty message is UNKNOWN (0)");
  t.deepEqual(decodeHealthCheckResponse(new Uint8Array([0, 0, 0, 0, 5, 0x12, 1, 0x41, 0x08, 2])), { status: 2 }, "field 2 skipped");
  t.deepEqual(decodeHealthCheckResponse(new Uint8Array([0, 0, 0, 0, 9, 0x08])), { error: "gRPC frame says 9 bytes but 1 came" });
  t.deepEqual(decodeHealthCheckResponse(new Uint8Array([1, 0, 0, 0, 0])), { error: "compressed gRPC responses are not supported" });
  t.deepEqual(decodeHealthCheckResponse(new Uint8Array([0, 0, 0, 0, 1, 0x08])), { error: "truncated protobuf varint" });
  t.deepEqual(splitGrpcTarget("127.0.0.1:9090/my.Service"), { server: "127.0.0.1:9090", service: "my.Service" });
  t.deepEqual(splitGrpcTarget("127.0.0.1:9090"), { server: "127.0.0.1:9090", service: "" });
});

test("grpc: SERVING is passing, NOT_SERVING and gRPC errors critical, in Consul's and Go's words", async (t) => {
  const { address, asked } = await healthServer(t);
  const probe = (target: string) => ({ kind: "grpc" as const, target, useTls: false, tlsSkipVerify: false });
  t.deepEqual(await runGrpc(probe(address), opts), { status: "passing", output: `gRPC check ${address}: success` });
  t.deepEqual(await runGrpc(probe(`${address}/web`), opts), { status: "passing", output: `gRPC check ${address}/web: success` });
  t.deepEqual(await runGrpc(probe(`${address}/db`), opts), { status: "critical", output: `gRPC ${address}/db serving status: NOT_SERVING` });
  t.deepEqual(await runGrpc(probe(`${address}/gone`), opts), { status: "critical", output: "rpc error: code = Unimplemented desc = unknown service grpc.health.v1.Health" });
  t.deepEqual(await runGrpc(probe(`${address}/mute`), { ...opts, timeoutMs: 200 }), { status: "critical", output: "rpc error: code = DeadlineExceeded desc = context deadline exceeded" });
  t.is(asked[1], '/grpc.health.v1.Health/Check "web" application/grpc');
  const refused = await runGrpc(probe("127.0.0.1:1"), opts);
  t.deepEqual(refused, { status: "critical", output: 'rpc error: code = Unavailable desc = connection error: desc = "transport: Error while dialing: dial tcp 127.0.0.1:1: connect: connection refused"' });
});

test("runner: a grpc check follows its service from NOT_SERVING to SERVING", async (t) => {
  const state = { dbServing: false };
  const { address } = await healthServer(t, state);
  const { runner, changes } = testRunner();
  t.teardown(() => runner.stop());
  runner.add(def({ grpc: `${address}/db`, interval: "30ms" }, "db"), { origin: "remote" });
  await waitFor(changes, (c) => c.status === "critical", "NOT_SERVING");
  state.dbServing = true;
  const up = await waitFor(changes, (c) => c.status === "passing", "SERVING");
  t.is(up.output, `gRPC check ${address}/db: success`);
});
