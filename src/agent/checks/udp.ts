/**
 * UDP checks, as Consul runs them: send one (empty) datagram to the address and wait for the
 * timeout (default 10 s). An ICMP port-unreachable (the socket reports ECONNREFUSED) is critical;
 * a reply or silence is passing, `UDP connect <addr>: Success`, because a UDP service need not
 * answer at all.
 */
import dgram from "node:dgram";
import { lookup } from "node:dns/promises";
import net from "node:net";
import { goSocketError, joinHostPort, splitHostPort, type ProbeOptions, type ProbeResult } from "./probe.ts";

export const udpTimeoutMsDefault = 10_000;

export async function runUdp(address: string, options: ProbeOptions): Promise<ProbeResult> {
  const target = splitHostPort(address);
  if ("error" in target) return { status: "critical", output: `dial udp: ${target.error}` };
  let ip = target.host;
  let family = net.isIP(ip);
  if (family === 0) {
    try {
      const found = await lookup(target.host);
      ip = found.address;
      family = found.family;
    } catch {
      return { status: "critical", output: `dial udp: lookup ${target.host}: no such host` };
    }
  }
  const success: ProbeResult = { status: "passing", output: `UDP connect ${address}: Success` };
  return new Promise((resolve) => {
    let settled = false;
    const socket = dgram.createSocket(family === 6 ? "udp6" : "udp4");
    const finish = (result: ProbeResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal.removeEventListener("abort", onAbort);
      try {
        socket.close();
      } catch {
        // Closed already.
      }
      resolve(result);
    };
    const onAbort = (): void => finish({ status: "critical", output: "check stopped" });
    const timer = setTimeout(() => finish(success), options.timeoutMs);
    options.signal.addEventListener("abort", onAbort, { once: true });
    if (options.signal.aborted) onAbort();
    socket.on("message", () => finish(success));
    socket.on("error", (err: NodeJS.ErrnoException) => {
      let local = "";
      try {
        const a = socket.address();
        local = `${joinHostPort(a.address, a.port)}->`;
      } catch {
        // Not bound: no local address to show.
      }
      finish({ status: "critical", output: goSocketError("read udp", `${local}${joinHostPort(ip, target.port)}`, { ...err, address: undefined, port: undefined, code: err.code, message: err.message }) });
    });
    socket.connect(target.port, ip, () => {
      socket.send(new Uint8Array(0), (err) => {
        if (err) finish({ status: "critical", output: `write udp ${joinHostPort(ip, target.port)}: ${err.message}` });
      });
    });
  });
}
