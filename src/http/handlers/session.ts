/**
 * `/v1/session/*` (session_endpoint.go): create, destroy, renew through Raft; info, node and list
 * as blocking reads of the sessions table.
 */
import type { AgentBackend } from "../../agent/api.ts";
import { writeRequest } from "../bodies.ts";
import { field } from "../bodies.ts";
import type { Call } from "../call.ts";

/**
 * Create: `Node` defaults to this agent's node; `Checks`/`NodeChecks`/`ServiceChecks`,
 * `LockDelay` ("15s" or a bare number, below 1000 meaning seconds), `Behavior` and `TTL` are
 * read as Consul reads them. The agent draws the session ID (the request carries `ID: ""`).
 */
export async function sessionCreate(call: Call, backend: AgentBackend): Promise<void> {
  const body = await call.jsonObject("session");
  const node = field(body, "Node");
  const request = writeRequest("session.create", body, {
    ID: "pending",
    Node: typeof node === "string" && node !== "" ? node : backend.nodeName,
  });
  const answer = await backend.write({ ...request, ID: "" }, call.writeOptions());
  call.send(answer);
}

export async function sessionDestroy(call: Call, backend: AgentBackend): Promise<void> {
  const id = call.required("session id");
  const answer = await backend.write({ op: "session.destroy", ID: id }, call.writeOptions());
  call.send(answer === undefined ? true : answer);
}

export async function sessionRenew(call: Call, backend: AgentBackend): Promise<void> {
  const id = call.required("session id");
  const answer = await backend.write({ op: "session.renew", ID: id }, call.writeOptions());
  call.send(answer ?? []);
}

export async function sessionInfo(call: Call, backend: AgentBackend): Promise<void> {
  const id = call.required("session id");
  const result = await backend.query({ kind: "sessionInfo", id }, call.readOptions(false));
  call.meta(result.meta);
  call.send(result.value ?? []);
}

export async function sessionNode(call: Call, backend: AgentBackend): Promise<void> {
  const node = call.required("node name");
  const result = await backend.query({ kind: "sessionList", node }, call.readOptions(false));
  call.meta(result.meta);
  call.send(result.value ?? []);
}

export async function sessionList(call: Call, backend: AgentBackend): Promise<void> {
  const result = await backend.query({ kind: "sessionList" }, call.readOptions(false));
  call.meta(result.meta);
  call.send(result.value ?? []);
}
