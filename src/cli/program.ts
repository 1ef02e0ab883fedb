/**
 * `praetor <command> [args]`: the command table and dispatch. Each command's module is imported
 * only when it runs, so `praetor version` loads this file and version.ts and nothing else.
 */
import type { Command } from "./command.ts";
import type { CliIo } from "./io.ts";
import { versionText } from "./version.ts";

interface Entry {
  readonly synopsis: string;
  /** Loads the command (or, for a group such as `operator raft`, nothing: its subcommands are listed). */
  readonly load?: () => Promise<Command>;
}

/** Every command, by its words. Groups ("operator", "operator raft") only list what is under them. */
const commands: Readonly<Record<string, Entry>> = {
  agent: { synopsis: "Runs a Praetor agent", load: async () => (await import("./commands/agent.ts")).agentCommand },
  catalog: { synopsis: "Interact with the catalog" },
  "catalog datacenters": { synopsis: "Lists all known datacenters", load: async () => (await import("./commands/catalog.ts")).catalogDatacentersCommand },
  "catalog nodes": { synopsis: "Lists all nodes in the given datacenter", load: async () => (await import("./commands/catalog.ts")).catalogNodesCommand },
  "catalog services": { synopsis: "Lists all registered services in a datacenter", load: async () => (await import("./commands/catalog.ts")).catalogServicesCommand },
  event: { synopsis: "Fire a new event", load: async () => (await import("./commands/services.ts")).eventCommand },
  "force-leave": { synopsis: 'Forces a member of the cluster to enter the "left" state', load: async () => (await import("./commands/cluster.ts")).forceLeaveCommand },
  info: { synopsis: "Provides debugging information for operators.", load: async () => (await import("./commands/cluster.ts")).infoCommand },
  join: { synopsis: "Tell Praetor agent to join cluster", load: async () => (await import("./commands/cluster.ts")).joinCommand },
  keygen: { synopsis: "Generates a new encryption key", load: async () => (await import("./commands/keygen.ts")).keygenCommand },
  keyring: { synopsis: "Manages gossip layer encryption keys", load: async () => (await import("./commands/keyring.ts")).keyringCommand },
  kv: { synopsis: "Interact with the key-value store" },
  "kv delete": { synopsis: "Removes data from the KV store", load: async () => (await import("./commands/kv.ts")).kvDeleteCommand },
  "kv export": { synopsis: "Exports a tree from the KV store as JSON", load: async () => (await import("./commands/kv.ts")).kvExportCommand },
  "kv get": { synopsis: "Retrieves or lists data from the KV store", load: async () => (await import("./commands/kv.ts")).kvGetCommand },
  "kv import": { synopsis: "Imports a tree stored as JSON to the KV store", load: async () => (await import("./commands/kv.ts")).kvImportCommand },
  "kv put": { synopsis: "Sets or updates data in the KV store", load: async () => (await import("./commands/kv.ts")).kvPutCommand },
  leave: { synopsis: "Gracefully leaves the Praetor cluster and shuts down", load: async () => (await import("./commands/cluster.ts")).leaveCommand },
  lock: { synopsis: "Execute a command holding a lock", load: async () => (await import("./commands/lock.ts")).lockCommand },
  maint: { synopsis: "Controls node or service maintenance mode", load: async () => (await import("./commands/services.ts")).maintCommand },
  members: { synopsis: "Lists the members of a Praetor cluster", load: async () => (await import("./commands/members.ts")).membersCommand },
  monitor: { synopsis: "Stream logs from a Praetor agent", load: async () => (await import("./commands/cluster.ts")).monitorCommand },
  operator: { synopsis: "Provides cluster-level tools for Praetor operators" },
  "operator raft": { synopsis: "Provides cluster-level tools for Praetor operators" },
  "operator raft list-peers": { synopsis: "Display the current Raft peer configuration", load: async () => (await import("./commands/operator.ts")).listPeersCommand },
  "operator raft remove-peer": { synopsis: "Remove a Praetor server from the Raft configuration", load: async () => (await import("./commands/operator.ts")).removePeerCommand },
  "operator raft transfer-leader": { synopsis: "Transfer raft leadership to another node", load: async () => (await import("./commands/operator.ts")).transferLeaderCommand },
  reload: { synopsis: "Triggers the agent to reload configuration files", load: async () => (await import("./commands/cluster.ts")).reloadCommand },
  rtt: { synopsis: "Estimates network round trip time between nodes", load: async () => (await import("./commands/rtt.ts")).rttCommand },
  services: { synopsis: "Interact with services" },
  "services deregister": { synopsis: "Deregister services with the local agent", load: async () => (await import("./commands/services.ts")).servicesDeregisterCommand },
  "services register": { synopsis: "Register services with the local agent", load: async () => (await import("./commands/services.ts")).servicesRegisterCommand },
  snapshot: { synopsis: "Saves and restores snapshots of Praetor server state" },
  "snapshot inspect": { synopsis: "Displays information about a Praetor snapshot file", load: async () => (await import("./commands/snapshot.ts")).snapshotInspectCommand },
  "snapshot restore": { synopsis: "Restores snapshot of Praetor server state", load: async () => (await import("./commands/snapshot.ts")).snapshotRestoreCommand },
  "snapshot save": { synopsis: "Saves snapshot of Praetor server state", load: async () => (await import("./commands/snapshot.ts")).snapshotSaveCommand },
  validate: { synopsis: "Validate config files/directories", load: async () => (await import("./commands/validate.ts")).validateCommand },
  version: { synopsis: "Prints the Praetor version" },
  watch: { synopsis: "Watch for changes in Praetor", load: async () => (await import("./commands/watch.ts")).watchCommand },
};

function topLevelUsage(): string {
  const names = Object.keys(commands).filter((n) => !n.includes(" ")).sort();
  const width = Math.max(...names.map((n) => n.length)) + 4;
  const lines = names.map((n) => `    ${n.padEnd(width)}${commands[n]!.synopsis}`);
  return `Usage: praetor [--version] [--help] <command> [<args>]\n\nAvailable commands are:\n${lines.join("\n")}\n`;
}

function groupUsage(group: string): string {
  const prefix = `${group} `;
  const subs = Object.keys(commands).filter((n) => n.startsWith(prefix) && !n.slice(prefix.length).includes(" ")).sort();
  const width = Math.max(...subs.map((n) => n.length - prefix.length)) + 4;
  const lines = subs.map((n) => `    ${n.slice(prefix.length).padEnd(width)}${commands[n]!.synopsis}`);
  return `Usage: praetor ${group} <subcommand> [options] [args]\n\n  ${commands[group]!.synopsis}\n\nSubcommands:\n${lines.join("\n")}\n`;
}

/** Runs the command line (without "node" and the script) and returns the exit code. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const first = argv[0];
  if (first === undefined || first === "-h" || first === "-help" || first === "--help" || first === "help") {
    (first === undefined ? io.stderr : io.stdout)(topLevelUsage());
    return first === undefined ? 1 : 0;
  }
  if (first === "version" || first === "-v" || first === "-version" || first === "--version") {
    io.stdout(versionText());
    return 0;
  }
  // The longest run of words that names a command: "operator raft list-peers" before "operator".
  let words = 1;
  while (words < argv.length && commands[argv.slice(0, words + 1).join(" ")] !== undefined) words++;
  const name = argv.slice(0, words).join(" ");
  const entry = commands[name];
  if (entry === undefined) {
    io.stderr(`Unknown command: ${JSON.stringify(first)}\n\n${topLevelUsage()}`);
    return 1;
  }
  const rest = argv.slice(words);
  if (entry.load === undefined) {
    const asksHelp = rest.length === 0 || ["-h", "-help", "--help"].includes(rest[0]!);
    (asksHelp ? io.stdout : io.stderr)(rest.length > 0 && !asksHelp ? `Unknown subcommand: ${JSON.stringify(rest[0])}\n\n${groupUsage(name)}` : groupUsage(name));
    return asksHelp && rest.length > 0 ? 0 : 1;
  }
  const [command, { runCommand }] = await Promise.all([entry.load(), import("./command.ts")]);
  return runCommand(command, name, rest, io);
}
