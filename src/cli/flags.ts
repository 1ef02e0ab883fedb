/**
 * Go's `flag` package syntax, as every Consul command parses its arguments:
 *   -flag value   -flag=value   --flag value   --flag=value
 *   -bool         -bool=false   (a boolean never takes the next argument as its value)
 * Parsing stops at the first argument that is not a flag, at a lone "-", or after "--"; the rest
 * are positional. A repeatable flag (`-retry-join`, `-config-dir`, ...) collects every value.
 * No library does Go's rules exactly (yargs guesses, merges and camel-cases), so this is ours.
 */
import { parseDurationMs } from "../agent/config/duration.ts";

export type FlagKind = "bool" | "string" | "int" | "uint" | "duration" | "list";
export type FlagValue = string | number | boolean;

export interface FlagSpec {
  readonly name: string;
  readonly kind: FlagKind;
  readonly usage: string;
  /** Shown in the usage text as the value's name: `-data-dir=<path>`. */
  readonly placeholder?: string;
}

export interface ParsedFlags {
  /** Each flag's last value (or, for a `list` flag, every value in order). */
  readonly values: ReadonlyMap<string, FlagValue | readonly string[]>;
  /** Every flag as given, in command-line order: the config loader needs -config-file/-config-dir interleaved. */
  readonly occurrences: readonly { readonly name: string; readonly value: FlagValue }[];
  /** The positional arguments after the flags. */
  readonly args: readonly string[];
}

/** A command line that cannot be parsed; the message reads like Go's, and the CLI prints usage after it. */
export class FlagError extends Error {
  override name = "FlagError";
}

/** `-h`, `-help` or `--help` was given: print the command's usage and exit 0. */
export class HelpRequested extends Error {
  override name = "HelpRequested";
  constructor() {
    super("help requested");
  }
}

const goTrue = new Set(["1", "t", "T", "TRUE", "true", "True"]);
const goFalse = new Set(["0", "f", "F", "FALSE", "false", "False"]);

/** Go's strconv.ParseBool. */
export function parseGoBool(text: string): boolean | null {
  if (goTrue.has(text)) return true;
  if (goFalse.has(text)) return false;
  return null;
}

function parseGoInt(text: string): number | null {
  const t = text.replaceAll("_", "");
  if (!/^[+-]?(0[xX][0-9a-fA-F]+|0[oO]?[0-7]*|[1-9]\d*|0[bB][01]+)$/.test(t)) return null;
  const negative = t.startsWith("-");
  const body = t.replace(/^[+-]/, "");
  const n = /^0[0-7]+$/.test(body) ? Number.parseInt(body, 8) : Number(body.replace(/^0[oO]/, "0o"));
  if (!Number.isSafeInteger(n)) return null;
  return negative ? -n : n;
}

function convert(spec: FlagSpec, text: string): FlagValue {
  switch (spec.kind) {
    case "bool": {
      const b = parseGoBool(text);
      if (b === null) throw new FlagError(`invalid boolean value ${JSON.stringify(text)} for -${spec.name}: parse error`);
      return b;
    }
    case "int":
    case "uint": {
      const n = parseGoInt(text);
      if (n === null || (spec.kind === "uint" && n < 0)) throw new FlagError(`invalid value ${JSON.stringify(text)} for flag -${spec.name}: parse error`);
      return n;
    }
    case "duration": {
      const ms = parseDurationMs(text);
      if (ms === null) throw new FlagError(`invalid value ${JSON.stringify(text)} for flag -${spec.name}: parse error (want a duration such as 30s or 5m)`);
      return text;
    }
    case "string":
    case "list":
      return text;
  }
}

/** Parses `argv` against `specs` with Go's rules; throws FlagError or HelpRequested. */
export function parseFlags(argv: readonly string[], specs: readonly FlagSpec[]): ParsedFlags {
  const byName = new Map(specs.map((s) => [s.name, s]));
  const values = new Map<string, FlagValue | string[]>();
  const occurrences: { name: string; value: FlagValue }[] = [];
  let i = 0;
  for (; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg.length < 2 || !arg.startsWith("-")) break;
    if (arg === "--") {
      i++;
      break;
    }
    const body = arg.startsWith("--") ? arg.slice(2) : arg.slice(1);
    if (body === "" || body.startsWith("-") || body.startsWith("=")) throw new FlagError(`bad flag syntax: ${arg}`);
    const eq = body.indexOf("=");
    const name = eq < 0 ? body : body.slice(0, eq);
    const spec = byName.get(name);
    if (spec === undefined) {
      if (name === "h" || name === "help") throw new HelpRequested();
      throw new FlagError(`flag provided but not defined: -${name}`);
    }
    let text: string;
    if (eq >= 0) text = body.slice(eq + 1);
    else if (spec.kind === "bool") text = "true";
    else if (i + 1 < argv.length) text = argv[++i]!;
    else throw new FlagError(`flag needs an argument: -${name}`);
    const value = convert(spec, text);
    occurrences.push({ name, value });
    if (spec.kind === "list") {
      const list = (values.get(name) as string[] | undefined) ?? [];
      list.push(value as string);
      values.set(name, list);
    } else values.set(name, value);
  }
  return { values, occurrences, args: argv.slice(i) };
}

/** The flags section of a usage text, sorted by name, as Consul's `flags.Usage` prints it. */
export function formatFlagUsage(specs: readonly FlagSpec[]): string {
  const lines: string[] = [];
  for (const spec of [...specs].sort((a, b) => a.name.localeCompare(b.name))) {
    const placeholder = spec.kind === "bool" ? "" : `=<${spec.placeholder ?? "value"}>`;
    lines.push(`  -${spec.name}${placeholder}`);
    lines.push(...wrap(spec.usage, 70).map((l) => `     ${l}`));
    lines.push("");
  }
  return lines.join("\n");
}

function wrap(text: string, width: number): string[] {
  const out: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/)) {
    if (line !== "" && line.length + word.length + 1 > width) {
      out.push(line);
      line = word;
    } else line = line === "" ? word : `${line} ${word}`;
  }
  if (line !== "") out.push(line);
  return out;
}

/** Typed accessors over a parse result. */
export function flagString(parsed: ParsedFlags, name: string): string | undefined {
  const v = parsed.values.get(name);
  return typeof v === "string" ? v : undefined;
}

export function flagBool(parsed: ParsedFlags, name: string): boolean {
  return parsed.values.get(name) === true;
}

export function flagList(parsed: ParsedFlags, name: string): readonly string[] {
  const v = parsed.values.get(name);
  return Array.isArray(v) ? v : [];
}
