/**
 * `loadConfig(argv, env)`: the agent's flags and config files, merged in Consul's order —
 * defaults, then -dev's overrides, then each -config-file / -config-dir in command-line order
 * (a directory's files sorted by name), then -hcl fragments, then the flags. Later values win,
 * maps merge, lists (services, checks, retry_join, ...) append.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { FlagError, parseFlags } from "../../cli/flags.ts";
import { agentFlags, agentFlagValues, type ConfigLocation } from "./agent-flags.ts";
import { buildConfig, defaultFragment, devFragment } from "./build.ts";
import { parseHcl } from "./hcl.ts";
import { decodeSource, mergeFragments, type Fragment } from "./schema.ts";
import { type AgentConfig, ConfigError } from "./types.ts";

export interface LoadedConfig {
  readonly config: AgentConfig;
  /** Unknown keys, ignored keys and risky settings, each naming its file. */
  readonly warnings: readonly string[];
}

/** The I/O loadConfig needs, injectable for tests. */
export interface ConfigIo {
  readonly hostname: () => string;
  readonly readFile: (file: string) => string;
  readonly stat: (file: string) => { isDirectory(): boolean; isFile(): boolean };
  readonly readDir: (dir: string) => string[];
}

export const nodeConfigIo: ConfigIo = {
  hostname: () => os.hostname(),
  readFile: (file) => fs.readFileSync(file, "utf8"),
  stat: (file) => fs.statSync(file),
  readDir: (dir) => fs.readdirSync(dir),
};

/**
 * Parses `praetor agent`'s arguments (without "agent") and builds the configuration.
 * `env` is read for nothing Consul's agent does not read; it is here so callers pass it explicitly.
 * Throws FlagError for a bad command line and ConfigError for a bad configuration.
 */
export function loadConfig(argv: readonly string[], env: Readonly<Record<string, string | undefined>> = {}, io: ConfigIo = nodeConfigIo): LoadedConfig {
  void env;
  const parsed = parseFlags(argv, agentFlags);
  if (parsed.args.length > 0) throw new FlagError(`unexpected extra arguments: ${parsed.args.join(" ")}`);
  const flags = agentFlagValues(parsed);
  const format = checkFormat(flags.configFormat);
  const warnings: string[] = [];
  const fileFragments = readLocations(flags.locations, format, io, warnings);
  const hclFragments = flags.hcl.map((text, i) => decodeSource(parseHcl(text, `-hcl #${i + 1}`), { source: `-hcl #${i + 1}`, warnings }));
  const flagFragment = decodeSource(flags.raw, { source: "command-line flags", warnings });
  let merged = flags.dev ? mergeFragments(defaultFragment, devFragment) : defaultFragment;
  for (const fragment of [...fileFragments.map((f) => f.fragment), ...hclFragments, flagFragment]) merged = mergeFragments(merged, fragment);
  const config = buildConfig({ merged, dev: flags.dev, hostname: io.hostname(), sources: fileFragments.map((f) => f.file), warnings });
  return { config, warnings };
}

/**
 * `praetor validate FILE_OR_DIR...`: the same reading, decoding and checks as the agent, without
 * flags. Like Consul's validate it requires what the agent requires (data_dir, for one).
 */
export function validateConfigFiles(paths: readonly string[], io: ConfigIo = nodeConfigIo, configFormat?: string): LoadedConfig {
  const locations = paths.map((p): ConfigLocation => ({ kind: statPath(p, io).isDirectory() ? "dir" : "file", path: p }));
  const format = checkFormat(configFormat);
  const warnings: string[] = [];
  const fragments = readLocations(locations, format, io, warnings);
  let merged = defaultFragment;
  for (const { fragment } of fragments) merged = mergeFragments(merged, fragment);
  const config = buildConfig({ merged, dev: false, hostname: io.hostname(), sources: fragments.map((f) => f.file), warnings });
  return { config, warnings };
}

type Format = "json" | "hcl" | undefined;

function checkFormat(format: string | undefined): Format {
  if (format === undefined || format === "json" || format === "hcl") return format;
  throw new FlagError(`-config-format must be 'hcl' or 'json', got ${JSON.stringify(format)}`);
}

function statPath(p: string, io: ConfigIo): { isDirectory(): boolean; isFile(): boolean } {
  try {
    return io.stat(p);
  } catch (e) {
    throw new ConfigError(`Error reading ${JSON.stringify(p)}: ${describeFsError(e)}`);
  }
}

function describeFsError(e: unknown): string {
  const code = (e as { code?: string }).code;
  if (code === "ENOENT") return "no such file or directory";
  if (code === "EACCES") return "permission denied";
  if (code === "EISDIR") return "is a directory";
  return e instanceof Error ? e.message : String(e);
}

function readLocations(locations: readonly ConfigLocation[], format: Format, io: ConfigIo, warnings: string[]): { file: string; fragment: Fragment }[] {
  const out: { file: string; fragment: Fragment }[] = [];
  for (const location of locations) {
    for (const file of filesOf(location, format, io)) {
      out.push({ file, fragment: readConfigFile(file, format, io, warnings) });
    }
  }
  return out;
}

/**
 * A -config-file is read whatever its extension (format from -config-format or the extension);
 * a -config-dir contributes its `.json` and `.hcl` files, sorted by name, skipping subdirectories.
 */
function filesOf(location: ConfigLocation, format: Format, io: ConfigIo): string[] {
  const st = statPath(location.path, io);
  if (location.kind === "file") {
    if (st.isDirectory()) return filesOf({ kind: "dir", path: location.path }, format, io);
    return [location.path];
  }
  if (!st.isDirectory()) throw new ConfigError(`-config-dir ${JSON.stringify(location.path)} is not a directory (use -config-file for a file)`);
  const names = io.readDir(location.path).sort();
  return names
    .map((name) => path.join(location.path, name))
    .filter((file) => {
      if (format === undefined && !file.endsWith(".json") && !file.endsWith(".hcl")) return false;
      try {
        return io.stat(file).isFile();
      } catch {
        return false;
      }
    });
}

function readConfigFile(file: string, format: Format, io: ConfigIo, warnings: string[]): Fragment {
  let text: string;
  try {
    text = io.readFile(file);
  } catch (e) {
    throw new ConfigError(`Error reading ${file}: ${describeFsError(e)}`);
  }
  const fileFormat = format ?? (file.endsWith(".hcl") ? "hcl" : file.endsWith(".json") ? "json" : undefined);
  if (fileFormat === undefined) throw new ConfigError(`${file}: cannot tell the format: name it .json or .hcl, or pass -config-format`);
  const raw = fileFormat === "json" ? parseJson(text, file) : parseHcl(text, file);
  return decodeSource(raw, { source: file, warnings });
}

function parseJson(text: string, file: string): unknown {
  if (text.trim() === "") return {};
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`${file}: invalid JSON: ${(e as Error).message}`);
  }
}
