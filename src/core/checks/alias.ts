/**
 * An alias check mirrors the health of another service instance (or node): critical if any of
 * its checks is critical, else warning if any is warning, else passing. Node-level checks of the
 * aliased node count too, because they take the instance out of DNS as well. This is Consul's
 * `CheckAlias.processChecks`, with its output texts.
 */
import type { CheckStatus } from "../catalog/types.ts";
import type { CheckResultStatus } from "./types.ts";

/** The fields of a catalog or agent check that an alias reads. */
export interface AliasedCheck {
  readonly Node: string;
  readonly ServiceID: string;
  readonly Name: string;
  readonly Status: CheckStatus;
  readonly Output: string;
}

export interface AliasTarget {
  /** "" for this agent's own node (the checks then come from the agent's local state). */
  readonly node: string;
  /** "" to alias the node's own health only. */
  readonly serviceId: string;
}

export function aliasResult(target: AliasTarget, checks: readonly AliasedCheck[], serviceExists: boolean): { status: CheckResultStatus; output: string } {
  let status: CheckResultStatus = "passing";
  let output = "No checks found.";
  let serviceFound = false;
  for (const check of checks) {
    if (target.node !== "" && check.Node !== target.node) continue;
    const serviceMatch = check.ServiceID === target.serviceId;
    if (check.ServiceID !== "" && !serviceMatch) continue;
    if (serviceMatch) serviceFound = true;
    // Maintenance is registered as a critical check; a status of "maintenance" means the same.
    const checkStatus = check.Status === "maintenance" ? "critical" : check.Status;
    if (checkStatus === "critical" || checkStatus === "warning") {
      status = checkStatus;
      output = `Aliased check ${JSON.stringify(check.Name)} failing: ${check.Output}`;
      if (checkStatus === "critical") break;
    } else if (status === "passing") {
      output = "All checks passing.";
    }
  }
  if (!serviceFound && !serviceExists) {
    return { status: "critical", output: `Service ${target.serviceId} could not be found on node ${target.node}` };
  }
  return { status, output };
}
