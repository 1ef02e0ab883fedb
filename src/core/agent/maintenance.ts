/**
 * Consul's maintenance mode as the agent's own checks: a critical `_node_maintenance` check on
 * the node, or `_service_maintenance:<id>` on one service, which anti-entropy syncs like any other
 * check and which takes the node or instance out of `?passing` answers and DNS. Pure, so the
 * runtime (agent-services.ts) and the simulator's agent scenario build the same records.
 */
import { nodeMaintenanceCheckId, serviceMaintenanceCheckPrefix } from "../catalog/queries.ts";
import type { LocalCheck } from "./anti-entropy.ts";

export const nodeMaintenanceReasonDefault = "Maintenance mode is enabled for this node, but no reason was provided. This is a default message.";
export const serviceMaintenanceReasonDefault = "Maintenance mode is enabled for this service, but no reason was provided. This is a default message.";

export function nodeMaintenanceCheck(reason: string): LocalCheck {
  return { CheckID: nodeMaintenanceCheckId, Name: "Node Maintenance Mode", Status: "critical", Output: "", Notes: reason || nodeMaintenanceReasonDefault, ServiceID: "", Type: "maintenance" };
}

export function serviceMaintenanceCheckId(serviceId: string): string {
  return `${serviceMaintenanceCheckPrefix}${serviceId}`;
}

export function serviceMaintenanceCheck(serviceId: string, reason: string): LocalCheck {
  return {
    CheckID: serviceMaintenanceCheckId(serviceId), Name: "Service Maintenance Mode", Status: "critical", Output: "",
    Notes: reason || serviceMaintenanceReasonDefault, ServiceID: serviceId, Type: "maintenance",
  };
}
