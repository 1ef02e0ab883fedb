/**
 * `/v1/operator/keyring`, as Consul serves it: GET lists the keys of every pool this agent is in
 * (with how many members hold each), POST installs, PUT makes primary and DELETE removes the key
 * in the body's `{"Key": ...}`, each through Serf's keyring queries. `?relay-factor=` (0..5, as
 * Consul) relays the members' answers through others.
 */
import { ApiError, type AgentBackend } from "../../agent/api.ts";
import type { Call } from "../call.ts";
import { badRequest } from "../params.ts";

const relayFactorMax = 5;

function relayFactor(call: Call): number {
  const raw = call.params.get("relay-factor");
  if (raw === undefined || raw === "") return 0;
  const n = /^\d{1,3}$/.test(raw) ? Number(raw) : NaN;
  if (!(n >= 0 && n <= relayFactorMax)) throw badRequest(`Invalid ?relay-factor: ${JSON.stringify(raw)} (0 to ${relayFactorMax})`);
  return n;
}

function backendOf(backend: AgentBackend): Required<Pick<AgentBackend, "keyringOperation">> {
  const op = backend.keyringOperation?.bind(backend);
  if (op === undefined) throw new ApiError(501, "This agent does not manage a gossip keyring");
  return { keyringOperation: op };
}

export async function keyringList(call: Call, backend: AgentBackend): Promise<void> {
  call.send(await backendOf(backend).keyringOperation("list", "", { relayFactor: relayFactor(call) }));
}

async function change(call: Call, backend: AgentBackend, op: "install" | "use" | "remove"): Promise<void> {
  const body = await call.jsonObject("keyring request");
  const field = Object.keys(body).find((k) => k.toLowerCase() === "key");
  const key = field === undefined ? undefined : body[field];
  if (typeof key !== "string" || key === "") throw badRequest("Request decode failed: a \"Key\" string is required");
  await backendOf(backend).keyringOperation(op, key, { relayFactor: relayFactor(call) });
  call.empty(200);
}

export const keyringInstall = (call: Call, backend: AgentBackend): Promise<void> => change(call, backend, "install");
export const keyringUse = (call: Call, backend: AgentBackend): Promise<void> => change(call, backend, "use");
export const keyringRemove = (call: Call, backend: AgentBackend): Promise<void> => change(call, backend, "remove");
