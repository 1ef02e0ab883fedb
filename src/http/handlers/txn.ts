/**
 * `PUT /v1/txn` (txn_endpoint.go): a JSON list of up to 128 operations. A list of only reads
 * is answered without Raft (`readTxn`, with the read headers); anything else is one `txn` write.
 * Success is `{"Results":[...],"Errors":null}`; a rolled-back txn is 409 with
 * `{"Results":null,"Errors":[{"OpIndex":n,"What":"..."}]}` (the server maps ApiError.errors).
 */
import type { AgentBackend } from "../../agent/api.ts";
import { ApiError } from "../../agent/api.ts";
import { isReadOnlyTxn, type ApplyResult, type TxnOp } from "../../core/catalog/index.ts";
import { writeRequest } from "../bodies.ts";
import { kvValueMaxBytes, type Call } from "../call.ts";
import { badRequest } from "../params.ts";

/** Consul's maxTxnOps in current releases. */
export const txnOpsMax = 128;

export async function txn(call: Call, backend: AgentBackend): Promise<void> {
  const body = await call.json(kvValueMaxBytes);
  if (!Array.isArray(body)) throw badRequest("Failed to parse body: the transaction must be a JSON list of operations");
  if (body.length > txnOpsMax) {
    throw new ApiError(413, `Transaction contains too many operations (${body.length} > ${txnOpsMax})`);
  }
  const request = writeRequest("txn", { Ops: body });
  const ops = request.Ops as readonly TxnOp[];
  if (ops.length > 0 && isReadOnlyTxn(ops)) {
    const result = await backend.query({ kind: "readTxn", ops }, call.readOptions(false));
    call.meta(result.meta);
    return call.send(unwrapApplyResult(result.value), 200, true);
  }
  const answer = await backend.write(request, call.writeOptions());
  call.send(answer, 200, true);
}

/** The catalog answers a read-only txn with its ApplyResult; a refusal becomes the ApiError it stands for. */
function unwrapApplyResult(value: unknown): unknown {
  if (typeof value !== "object" || value === null || typeof (value as { ok?: unknown }).ok !== "boolean") return value;
  const result = value as ApplyResult;
  if (result.ok) return result.value;
  throw new ApiError(result.error.status, result.error.message, result.error.errors);
}
