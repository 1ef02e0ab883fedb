/** `praetor services register|deregister` (from files or flags), `maint` and `event`. */
import type { Command } from "../command.ts";
import { flagBool, flagList, flagString, type ParsedFlags } from "../flags.ts";
import { ApiClient, ApiRequestError, clientFlags, clientOptions } from "../http-client.ts";
import { type CliIo, println } from "../io.ts";

async function call<T>(parsed: ParsedFlags, io: CliIo, prefix: string, body: (client: ApiClient) => Promise<T>): Promise<T | undefined> {
  try {
    return await body(new ApiClient(clientOptions(parsed, io.env)));
  } catch (e) {
    if (!(e instanceof ApiRequestError)) throw e;
    println(io.stderr, `${prefix}: ${e.message}`);
    return undefined;
  }
}

function fail(io: CliIo, message: string): number {
  println(io.stderr, message);
  return 1;
}

/** The service definitions in config files (JSON or HCL `service`/`services`), in the agent API's shape. */
async function servicesFromFiles(files: readonly string[]): Promise<Record<string, unknown>[]> {
  const [{ readFile }, { parseHcl }, { decodeSource }] = await Promise.all([
    import("node:fs/promises"), import("../../agent/config/hcl.ts"), import("../../agent/config/schema.ts"),
  ]);
  const out: Record<string, unknown>[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch (e) {
      throw new Error(`Error reading ${file}: ${(e as { code?: string }).code === "ENOENT" ? "no such file or directory" : (e as Error).message}`);
    }
    let raw: unknown;
    if (file.endsWith(".hcl")) raw = parseHcl(text, file);
    else {
      try {
        raw = JSON.parse(text);
      } catch (e) {
        throw new Error(`${file}: invalid JSON: ${(e as Error).message}`);
      }
    }
    const fragment = decodeSource(raw, { source: file, warnings: [] });
    const services = (fragment.services ?? []) as { value: Record<string, unknown> }[];
    if (services.length === 0) throw new Error(`${file}: no service definition (want "service" or "services")`);
    for (const s of services) {
      const { source: _source, ...api } = s.value;
      out.push(api);
    }
  }
  return out;
}

/** `-meta key=value` pairs into a map; a pair without "=" is an error naming it. */
function metaFromFlags(pairs: readonly string[]): Record<string, string> {
  const meta: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf("=");
    if (eq < 1) throw new Error(`Error parsing -meta ${JSON.stringify(pair)}: want key=value`);
    meta[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return meta;
}

export const servicesRegisterCommand: Command = {
  help: `
Usage: praetor services register [options] [FILE...]

  Register one or more services using the local agent API. Services can
  be registered from standard Praetor/Consul configuration files (HCL or JSON)
  or using flags. The service is registered and the command returns. The caller
  must remember to call "praetor services deregister" or a similar API to
  deregister the service when complete.

      $ praetor services register web.json

  Additional flags and more advanced use cases are detailed below.
`,
  flags: [
    { name: "name", kind: "string", placeholder: "string", usage: "Name of the service. This is required if no file is given." },
    { name: "id", kind: "string", placeholder: "string", usage: "ID of the service. Defaults to the name." },
    { name: "address", kind: "string", placeholder: "string", usage: "Address of the service." },
    { name: "port", kind: "uint", placeholder: "port", usage: "Port of the service." },
    { name: "tag", kind: "list", placeholder: "value", usage: "Tag to add to the service. This flag can be specified multiple times to set multiple tags." },
    { name: "meta", kind: "list", placeholder: "key=value", usage: "Metadata to set on the service, formatted as key=value. This flag may be specified multiple times to set multiple meta fields." },
    ...clientFlags,
  ],
  async run(parsed, io) {
    const name = flagString(parsed, "name");
    let services: Record<string, unknown>[];
    try {
      if (parsed.args.length > 0) {
        if (name !== undefined) return fail(io, "Error: Service name should not be given with files");
        services = await servicesFromFiles(parsed.args);
      } else {
        if (name === undefined || name === "") return fail(io, "Error: Service name or at least one file must be specified");
        const port = parsed.values.get("port");
        services = [{
          Name: name,
          ...(flagString(parsed, "id") === undefined ? {} : { ID: flagString(parsed, "id") }),
          Address: flagString(parsed, "address") ?? "",
          Port: typeof port === "number" ? port : 0,
          Tags: flagList(parsed, "tag"),
          Meta: metaFromFlags(flagList(parsed, "meta")),
        }];
      }
    } catch (e) {
      return fail(io, (e as Error).message);
    }
    for (const svc of services) {
      const ok = await call(parsed, io, "Error registering service", (c) => c.request("/v1/agent/service/register", { method: "PUT", body: JSON.stringify(svc) }));
      if (ok === undefined) return 1;
      println(io.stdout, `Registered service: ${String(svc.Name)}`);
    }
    return 0;
  },
};

export const servicesDeregisterCommand: Command = {
  help: `
Usage: praetor services deregister [options] [FILE...]

  Deregister one or more services that were previously registered with
  the local agent.

      $ praetor services deregister web.json

  The -id flag may be used to deregister a single service by ID:

      $ praetor services deregister -id=web
`,
  flags: [{ name: "id", kind: "string", placeholder: "string", usage: "ID to delete. This must not be set if arguments are given." }, ...clientFlags],
  async run(parsed, io) {
    const id = flagString(parsed, "id");
    let ids: string[];
    if (parsed.args.length > 0 && id !== undefined) return fail(io, "Error: Only one of -id or files may be given");
    if (parsed.args.length === 0 && (id === undefined || id === "")) return fail(io, "Error: -id or at least one file must be specified");
    try {
      ids = id !== undefined ? [id] : (await servicesFromFiles(parsed.args)).map((s) => String(s.ID ?? s.Name));
    } catch (e) {
      return fail(io, (e as Error).message);
    }
    for (const sid of ids) {
      const ok = await call(parsed, io, "Error deregistering service", (c) => c.request(`/v1/agent/service/deregister/${encodeURIComponent(sid)}`, { method: "PUT" }));
      if (ok === undefined) return 1;
      println(io.stdout, `Deregistered service: ${sid}`);
    }
    return 0;
  },
};

interface AgentCheck {
  readonly CheckID: string;
  readonly ServiceID: string;
  readonly Notes: string;
}

export const maintCommand: Command = {
  help: `
Usage: praetor maint [options]

  Places a node or service into maintenance mode. During maintenance mode,
  the node or service will be excluded from all queries through the DNS
  or API interfaces, effectively taking it out of the pool of available
  nodes. This is done by registering an additional critical health check.

  When enabling maintenance mode for a node or service, you may optionally
  specify a reason string. This string will appear in the "Notes" field
  of the critical health check which is registered against the node or
  service. If no reason is provided, a default value will be used.

  Maintenance mode is persistent, and will be restored in the event of an
  agent restart. It is therefore required to disable maintenance mode on
  a given node or service before it will be placed back into any pool.

  If no arguments are given, the agent's maintenance status will be shown.
  This will return blank if nothing is currently under maintenance.
`,
  flags: [
    { name: "enable", kind: "bool", usage: "Enable maintenance mode." },
    { name: "disable", kind: "bool", usage: "Disable maintenance mode." },
    { name: "reason", kind: "string", placeholder: "string", usage: "Text describing the maintenance reason." },
    { name: "service", kind: "string", placeholder: "string", usage: "Control maintenance mode for a specific service ID." },
    ...clientFlags,
  ],
  async run(parsed, io) {
    const enable = flagBool(parsed, "enable");
    const disable = flagBool(parsed, "disable");
    const reason = flagString(parsed, "reason") ?? "";
    const service = flagString(parsed, "service") ?? "";
    if (enable && disable) return fail(io, "Only one of -enable or -disable may be provided");
    if (!enable && reason !== "") return fail(io, "Reason may only be provided with -enable");
    if (!enable && !disable && service !== "") return fail(io, "Service requires either -enable or -disable");
    if (!enable && !disable) {
      const checks = await call(parsed, io, "Error listing checks", (c) => c.json<Record<string, AgentCheck>>("/v1/agent/checks"));
      if (checks === undefined) return 1;
      for (const check of Object.values(checks)) {
        // Each entry ends with a blank line, as Consul's does.
        if (check.CheckID === "_node_maintenance") io.stdout(`Node:\n  Name:   ${await nodeName(parsed, io)}\n  Reason: ${check.Notes}\n\n`);
        else if (check.CheckID.startsWith("_service_maintenance:")) io.stdout(`Service:\n  ID:     ${check.ServiceID}\n  Reason: ${check.Notes}\n\n`);
      }
      return 0;
    }
    const verb = enable ? "enabl" : "disabl";
    const query = { enable: String(enable), ...(enable ? { reason } : {}) };
    const path = service === "" ? "/v1/agent/maintenance" : `/v1/agent/service/maintenance/${encodeURIComponent(service)}`;
    const what = service === "" ? "node" : "service";
    const ok = await call(parsed, io, `Error ${verb}ing ${what} maintenance`, (c) => c.request(path, { method: "PUT", query }));
    if (ok === undefined) return 1;
    println(io.stdout, service === "" ? `Node maintenance is now ${verb}ed` : `Service maintenance is now ${verb}ed for ${JSON.stringify(service)}`);
    return 0;
  },
};

async function nodeName(parsed: ParsedFlags, io: CliIo): Promise<string> {
  const self = await call(parsed, io, "Error querying agent", (c) => c.json<{ Config?: { NodeName?: string } }>("/v1/agent/self"));
  return self?.Config?.NodeName ?? "";
}

export const eventCommand: Command = {
  help: `
Usage: praetor event [options] [payload]

  Dispatches a custom user event across a datacenter. An event must provide
  a name, but a payload is optional. Events support filtering using
  regular expressions on node name, service, and tag definitions.
`,
  flags: [
    { name: "name", kind: "string", placeholder: "string", usage: "Name of the event." },
    { name: "node", kind: "string", placeholder: "string", usage: "Regular expression to filter on node names." },
    { name: "service", kind: "string", placeholder: "string", usage: "Regular expression to filter on service instances." },
    { name: "tag", kind: "string", placeholder: "string", usage: "Regular expression to filter on service tags. Must be used with -service." },
    ...clientFlags,
  ],
  async run(parsed, io) {
    const name = flagString(parsed, "name") ?? "";
    const node = flagString(parsed, "node") ?? "";
    const service = flagString(parsed, "service") ?? "";
    const tag = flagString(parsed, "tag") ?? "";
    if (name === "") return fail(io, "Event name must be specified");
    for (const [what, re] of [["node", node], ["service", service], ["tag", tag]] as const) {
      try {
        new RegExp(re);
      } catch (e) {
        return fail(io, `Failed to compile ${what} filter regexp: ${(e as Error).message}`);
      }
    }
    if (tag !== "" && service === "") return fail(io, "Cannot provide tag filter without service filter.");
    if (parsed.args.length > 1) return fail(io, "Too many command line arguments.");
    const payload = parsed.args[0];
    const self = await call(parsed, io, "Error querying Praetor agent", (c) => c.json<unknown>("/v1/agent/self"));
    if (self === undefined) return 1;
    const query = { ...(node === "" ? {} : { node }), ...(service === "" ? {} : { service }), ...(tag === "" ? {} : { tag }) };
    const event = await call(parsed, io, "Error firing event", (c) => c.json<{ ID?: string }>(`/v1/event/fire/${encodeURIComponent(name)}`, {
      method: "PUT", query, ...(payload === undefined ? {} : { body: payload }),
    }));
    if (event === undefined) return 1;
    println(io.stdout, `Event ID: ${event.ID ?? ""}`);
    return 0;
  },
};
