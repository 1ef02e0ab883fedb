/**
 * Cross-table invariants of the catalog, checked by tests and the simulator after applies:
 *
 *   every service and check belongs to a registered node; a service check's service exists;
 *   CreateIndex <= ModifyIndex <= appliedIndex for every record, and each table index is at
 *   least the ModifyIndex of its records; every KV lock is held by a live session (lock
 *   safety); no live session is bound to a critical or missing check; derived indexes agree
 *   with the tables they index; prepared query names are unique and their sessions live.
 */
import { assert } from "../util/assert.ts";
import { checkPreparedQueryInvariants } from "./prepared-queries.ts";
import { checkKey, type CatalogState } from "./state.ts";

function indexes(what: string, record: { CreateIndex: number; ModifyIndex: number }, tableIndex: number, applied: number): void {
  assert(record.CreateIndex > 0, () => `${what}: CreateIndex ${record.CreateIndex} <= 0`);
  assert(record.CreateIndex <= record.ModifyIndex, () => `${what}: CreateIndex ${record.CreateIndex} > ModifyIndex ${record.ModifyIndex}`);
  assert(record.ModifyIndex <= tableIndex, () => `${what}: ModifyIndex ${record.ModifyIndex} > table index ${tableIndex}`);
  assert(tableIndex <= applied, () => `${what}: table index ${tableIndex} > applied ${applied}`);
}

export function checkInvariants(state: CatalogState): void {
  const applied = state.appliedIndex;
  for (const [name, node] of state.nodes) {
    assert(node.Node === name, () => `node ${name} stored as ${node.Node}`);
    indexes(`node ${name}`, node, state.tableIndex("nodes"), applied);
  }
  checkServices(state);
  checkChecks(state);
  checkSessions(state);
  checkPreparedQueryInvariants(state);
  state.kv.invariants();
  for (const entry of state.kv.withPrefix("")) {
    indexes(`kv ${entry.Key}`, entry, state.kv.tableIndex, applied);
    assert(entry.LockIndex >= 0, () => `kv ${entry.Key}: LockIndex ${entry.LockIndex} < 0`);
    if (entry.Session !== undefined) {
      assert(state.sessions.has(entry.Session), () => `kv ${entry.Key} held by dead session ${entry.Session}`);
    }
  }
}

function checkServices(state: CatalogState): void {
  let linked = 0;
  for (const [node, onNode] of state.services) {
    assert(state.nodes.has(node), () => `services on missing node ${node}`);
    assert(onNode.size > 0, () => `empty service map kept for node ${node}`);
    for (const [id, service] of onNode) {
      assert(service.ID === id, () => `service ${node}/${id} stored as ${service.ID}`);
      indexes(`service ${node}/${id}`, service, state.tableIndex("services"), state.appliedIndex);
      assert(state.instancesByName.get(service.Service)?.get(node)?.has(id), () => `service ${node}/${id} not indexed under ${service.Service}`);
    }
  }
  for (const byNode of state.instancesByName.values()) for (const ids of byNode.values()) linked += ids.size;
  let total = 0;
  for (const onNode of state.services.values()) total += onNode.size;
  assert(linked === total, () => `instance index holds ${linked} != ${total} services`);
}

function checkChecks(state: CatalogState): void {
  for (const [node, onNode] of state.checks) {
    assert(state.nodes.has(node), () => `checks on missing node ${node}`);
    for (const [id, check] of onNode) {
      assert(check.CheckID === id && check.Node === node, () => `check ${node}/${id} stored as ${check.Node}/${check.CheckID}`);
      indexes(`check ${node}/${id}`, check, state.tableIndex("checks"), state.appliedIndex);
      if (check.ServiceID !== "") {
        assert(state.services.get(node)?.has(check.ServiceID), () => `check ${node}/${id} of missing service ${check.ServiceID}`);
      }
    }
  }
}

function checkSessions(state: CatalogState): void {
  for (const [id, session] of state.sessions) {
    const { record } = session;
    assert(record.ID === id, () => `session ${id} stored as ${record.ID}`);
    indexes(`session ${id}`, record, state.tableIndex("sessions"), state.appliedIndex);
    assert(state.nodes.has(record.Node), () => `session ${id} on missing node ${record.Node}`);
    assert(state.sessionsByNode.get(record.Node)?.has(id), () => `session ${id} not indexed by node`);
    for (const checkId of record.Checks) {
      const check = state.checks.get(record.Node)?.get(checkId);
      assert(check !== undefined, () => `session ${id} bound to missing check ${checkId}`);
      assert(check.Status !== "critical", () => `session ${id} bound to critical check ${checkId}`);
      assert(state.sessionsByCheck.get(checkKey(record.Node, checkId))?.has(id), () => `session ${id} not indexed by check ${checkId}`);
    }
  }
}
