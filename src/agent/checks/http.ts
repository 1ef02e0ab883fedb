/**
 * HTTP checks: 2xx is passing, 429 (Too Many Requests) warning, anything else or no answer
 * critical. The output is Consul's `HTTP <METHOD> <url>: <code> <reason> Output: <body tail>`.
 * Like Go's client, at most 10 redirects are followed (301/302/303 turn into GET without a body,
 * 307/308 keep both), keep-alives are off, the timeout (default 10 s) covers the whole exchange,
 * and `User-Agent: Consul Health Check` and `Accept: text/plain, text/*, *\/*` are sent unless
 * the check sets them. A `Host` header sets the request's host.
 */
import http from "node:http";
import https from "node:https";
import { TailBuffer } from "../../core/checks/output.ts";
import type { CheckProbe } from "../../core/checks/types.ts";
import { goSocketError, joinHostPort, type ProbeOptions, type ProbeResult } from "./probe.ts";

type HttpProbe = Extract<CheckProbe, { kind: "http" }>;

export const httpTimeoutMsDefault = 10_000;
/** Go's http.Client default: `stopped after 10 redirects`. */
export const redirectsMax = 10;

interface Answer {
  readonly statusCode: number;
  readonly statusText: string;
  readonly location: string | undefined;
  readonly body: TailBuffer;
}

/** Go's url.Error prefix: `Get "http://..."`, the method with only its first letter upper. */
function urlErrorPrefix(method: string, url: string): string {
  return `${method.charAt(0)}${method.slice(1).toLowerCase()} ${JSON.stringify(url)}`;
}

export async function runHttp(probe: HttpProbe, options: ProbeOptions): Promise<ProbeResult> {
  // One controller per run, tied to the check's signal only for the run's length (rather than
  // AbortSignal.any, whose dependents hang off the check's long-lived signal run after run).
  const deadline = new AbortController();
  const onStop = (): void => deadline.abort();
  options.signal.addEventListener("abort", onStop, { once: true });
  if (options.signal.aborted) deadline.abort();
  const timer = setTimeout(() => deadline.abort(), options.timeoutMs);
  try {
    return await follow(probe, options, deadline.signal);
  } finally {
    clearTimeout(timer);
    options.signal.removeEventListener("abort", onStop);
  }
}

async function follow(probe: HttpProbe, options: ProbeOptions, deadline: AbortSignal): Promise<ProbeResult> {
  let url = probe.url;
  let method = probe.method;
  let body = probe.body;
  for (let redirects = 0; ; redirects++) {
    let target: URL;
    try {
      target = new URL(url);
    } catch {
      return { status: "critical", output: `parse ${JSON.stringify(url)}: invalid URL` };
    }
    if (target.protocol !== "http:" && target.protocol !== "https:") {
      return { status: "critical", output: `${urlErrorPrefix(probe.method, url)}: unsupported protocol scheme ${JSON.stringify(target.protocol.replace(/:$/, ""))}` };
    }
    let answer: Answer;
    try {
      answer = await exchange(target, method, body, probe, options.outputMaxBytes, deadline);
    } catch (err) {
      return { status: "critical", output: `${urlErrorPrefix(probe.method, url)}: ${describeError(err, target, options)}` };
    }
    const isRedirect = [301, 302, 303, 307, 308].includes(answer.statusCode) && answer.location !== undefined;
    if (isRedirect && !probe.disableRedirects) {
      const next = new URL(answer.location!, target).toString();
      if (redirects + 1 > redirectsMax) {
        return { status: "critical", output: `${urlErrorPrefix(probe.method, next)}: stopped after ${redirectsMax} redirects` };
      }
      if (answer.statusCode <= 303 && method !== "GET" && method !== "HEAD") {
        method = "GET";
        body = "";
      }
      url = next;
      continue;
    }
    const output = `HTTP ${probe.method} ${probe.url}: ${answer.statusCode} ${answer.statusText} Output: ${answer.body.text()}`;
    if (answer.statusCode >= 200 && answer.statusCode <= 299) return { status: "passing", output };
    if (answer.statusCode === 429) return { status: "warning", output };
    return { status: "critical", output };
  }
}

function exchange(target: URL, method: string, body: string, probe: HttpProbe, outputMaxBytes: number, signal: AbortSignal): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | string[]> = {};
    let hasUserAgent = false;
    let hasAccept = false;
    for (const [name, values] of Object.entries(probe.header)) {
      if (values.length === 0) continue;
      const lower = name.toLowerCase();
      if (lower === "user-agent") hasUserAgent = true;
      if (lower === "accept") hasAccept = true;
      headers[lower === "host" ? "host" : name] = lower === "host" ? values[0]! : [...values];
    }
    if (!hasUserAgent) headers["User-Agent"] = "Consul Health Check";
    if (!hasAccept) headers["Accept"] = "text/plain, text/*, */*";
    if (body !== "") headers["Content-Length"] = String(Buffer.byteLength(body));
    const requestOptions: https.RequestOptions = {
      method,
      headers,
      signal,
      // Consul disables keep-alives so a check never rides on a stale connection.
      agent: false,
    };
    if (target.protocol === "https:") {
      requestOptions.rejectUnauthorized = !probe.tlsSkipVerify;
      if (probe.tlsServerName !== "") requestOptions.servername = probe.tlsServerName;
    }
    const request = (target.protocol === "https:" ? https : http).request(target, requestOptions, (response) => {
      const answer: Answer = {
        statusCode: response.statusCode ?? 0,
        statusText: response.statusMessage ?? "",
        location: typeof response.headers.location === "string" ? response.headers.location : undefined,
        body: new TailBuffer(outputMaxBytes),
      };
      response.on("data", (chunk: Uint8Array) => answer.body.write(chunk));
      response.on("end", () => resolve(answer));
      // A body cut short (reset, timeout) still leaves a status worth reporting, as in Consul,
      // which logs the read error and reports the answer it got.
      response.on("error", () => resolve(answer));
      response.on("aborted", () => resolve(answer));
      response.on("close", () => resolve(answer));
    });
    request.on("error", reject);
    request.end(body === "" ? undefined : body);
  });
}

function describeError(err: unknown, target: URL, options: ProbeOptions): string {
  const e = err as NodeJS.ErrnoException & { address?: string; port?: number; hostname?: string };
  if (e.name === "AbortError" || e.name === "TimeoutError" || e.code === "ABORT_ERR") {
    if (options.signal.aborted) return "check stopped";
    return "context deadline exceeded (Client.Timeout exceeded while awaiting headers)";
  }
  const port = target.port !== "" ? target.port : target.protocol === "https:" ? "443" : "80";
  const host = target.hostname.replace(/^\[|\]$/g, "");
  switch (e.code) {
    case "DEPTH_ZERO_SELF_SIGNED_CERT":
    case "SELF_SIGNED_CERT_IN_CHAIN":
    case "UNABLE_TO_VERIFY_LEAF_SIGNATURE":
    case "UNABLE_TO_GET_ISSUER_CERT_LOCALLY":
      return `tls: failed to verify certificate: x509: certificate signed by unknown authority (${e.code})`;
    case "ERR_TLS_CERT_ALTNAME_INVALID":
      return `tls: failed to verify certificate: x509: certificate is not valid for ${host}`;
    case "CERT_HAS_EXPIRED":
      return "tls: failed to verify certificate: x509: certificate has expired or is not yet valid";
    case "ECONNRESET":
      return "EOF";
    default:
      // Socket errnos (ECONNREFUSED, EHOSTUNREACH ...) read as Go's dial errors; Node's own
      // ERR_* codes (a header or method Node refuses to send) keep Node's message.
      if (e.code !== undefined && /^E[A-Z]+$/.test(e.code)) return goSocketError("dial tcp", joinHostPort(host, port), e);
      return e.message ?? String(err);
  }
}
