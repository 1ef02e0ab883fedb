/**
 * TCP checks: a connection that opens is passing (`TCP connect <addr>: Success`), one refused,
 * unreachable or not made within the timeout (default 10 s) is critical with Go's dial error.
 */
import net from "node:net";
import { goSocketError, splitHostPort, type ProbeOptions, type ProbeResult } from "./probe.ts";

export const tcpTimeoutMsDefault = 10_000;

export function runTcp(address: string, options: ProbeOptions): Promise<ProbeResult> {
  const target = splitHostPort(address);
  if ("error" in target) return Promise.resolve({ status: "critical", output: `dial tcp: ${target.error}` });
  return new Promise((resolve) => {
    let settled = false;
    const socket = net.connect({ host: target.host, port: target.port });
    const finish = (result: ProbeResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal.removeEventListener("abort", onAbort);
      socket.destroy();
      resolve(result);
    };
    const onAbort = (): void => finish({ status: "critical", output: "check stopped" });
    const timer = setTimeout(() => finish({ status: "critical", output: `dial tcp ${address}: i/o timeout` }), options.timeoutMs);
    options.signal.addEventListener("abort", onAbort, { once: true });
    if (options.signal.aborted) onAbort();
    socket.once("connect", () => finish({ status: "passing", output: `TCP connect ${address}: Success` }));
    socket.once("error", (err) => finish({ status: "critical", output: goSocketError("dial tcp", address, err) }));
  });
}
