/**
 * The agent's logger: pino underneath, Consul's (hclog's) formats on the way out.
 *
 *   text:  2026-12-02T14:06:06.123Z [INFO]  agent.server: cluster leadership acquired: term=2 leader="n1 (127.0.0.1)"
 *   json:  {"@level":"info","@timestamp":"2026-12-02T14:06:06.123000Z","@module":"agent.server","@message":"...","term":2}
 *
 * Named sub-loggers (`logger.named("agent").named("server")` or `named("agent.server")`) share one
 * pino instance, so `setLevel` (SIGHUP reload) reaches all of them. `subscribe` feeds
 * `/v1/agent/monitor`: a subscriber may ask for a more verbose level than the agent logs at, and
 * pino's own level follows the most verbose of the configured level and every subscriber's.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import pino from "pino";
import type { LogLevel } from "./config/types.ts";

export type { LogLevel } from "./config/types.ts";

/** Key/value pairs printed after the message; Error values print their message. */
export type LogFields = Readonly<Record<string, unknown>>;

export interface Logger {
  /** This logger's module name ("" for the root). */
  readonly name: string;
  trace(message: string, fields?: LogFields): void;
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  /** A sub-logger whose module is this one's name, a dot, and `name` (hclog's Named). */
  named(name: string): Logger;
  /** Whether a line at `level` would reach the output or any subscriber (to skip building costly fields). */
  isLevelEnabled(level: LogLevel): boolean;
}

export interface RootLogger extends Logger {
  /** The level the agent's own output (stdout and the log file) is filtered at. */
  readonly level: LogLevel;
  setLevel(level: LogLevel): void;
  /** Delivers every line at `level` or above, formatted as text or JSON; returns the unsubscribe function. */
  subscribe(options: { readonly level: LogLevel; readonly json?: boolean }, listener: (line: string) => void): () => void;
  /** Closes the log file, if any. */
  close(): void;
}

export interface LoggerOptions {
  readonly level: LogLevel;
  readonly json?: boolean;
  /** -log-file: a file path, or a directory (ends in "/" or exists as one) to create praetor-<ms>.log in. */
  readonly file?: string;
  /** Where output lines go (default: stdout). Each call gets one line, newline included. */
  readonly write?: (line: string) => void;
  /** The clock (default: Date.now). */
  readonly nowMs?: () => number;
}

export const levelValues: Readonly<Record<LogLevel, number>> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50 };
const levelByValue = new Map(Object.entries(levelValues).map(([k, v]) => [v, k as LogLevel]));
const levelTag: Readonly<Record<LogLevel, string>> = {
  trace: "[TRACE] ", debug: "[DEBUG] ", info: "[INFO]  ", warn: "[WARN]  ", error: "[ERROR] ",
};

export function isLogLevel(text: string): text is LogLevel {
  return Object.hasOwn(levelValues, text);
}

/** hclog's JSON timestamp: local time with microseconds and the offset ("Z" in UTC). */
export function formatJsonTimestamp(ms: number): string {
  const d = new Date(ms);
  const offsetMin = -d.getTimezoneOffset();
  const local = new Date(ms + offsetMin * 60_000).toISOString().slice(0, 23);
  return `${local}000${formatOffset(offsetMin, true)}`;
}

/** hclog's text timestamp: "2006-01-02T15:04:05.000Z0700". */
export function formatTextTimestamp(ms: number): string {
  const d = new Date(ms);
  const offsetMin = -d.getTimezoneOffset();
  const local = new Date(ms + offsetMin * 60_000).toISOString().slice(0, 23);
  return `${local}${formatOffset(offsetMin, false)}`;
}

function formatOffset(offsetMin: number, colon: boolean): string {
  if (offsetMin === 0) return "Z";
  const sign = offsetMin < 0 ? "-" : "+";
  const abs = Math.abs(offsetMin);
  const hh = String(Math.floor(abs / 60)).padStart(2, "0");
  const mm = String(abs % 60).padStart(2, "0");
  return `${sign}${hh}${colon ? ":" : ""}${mm}`;
}

/** A value as hclog prints it after `key=`: bare when safe, quoted when it has spaces, quotes or control characters. */
export function formatTextValue(value: unknown): string {
  const text = typeof value === "string" ? value : value instanceof Error ? value.message : value === undefined ? "<nil>" : typeof value === "object" && value !== null ? JSON.stringify(value) : String(value);
  if (text.includes("\n")) return `\n${text.split("\n").map((l) => `  | ${l}`).join("\n")}`;
  if (/[\s"\\=]|[^\x20-\x7e]/.test(text)) return JSON.stringify(text);
  return text;
}

interface Entry {
  readonly levelValue: number;
  readonly timestamp: string;
  readonly module: string;
  readonly message: string;
  readonly fields: Record<string, unknown>;
  readonly json: string;
}

/** The text line for a decoded entry. */
function textLine(e: Entry): string {
  const ms = e.timestamp;
  // "2026-12-02T14:06:06.123000+08:00" → "2026-12-02T14:06:06.123+0800"
  const text = `${ms.slice(0, 23)}${ms.slice(26).replace(":", "")}`;
  const level = levelByValue.get(e.levelValue) ?? "info";
  const module = e.module === "" ? "" : `${e.module}: `;
  const pairs = Object.entries(e.fields).map(([k, v]) => `${k}=${formatTextValue(v)}`);
  const rest = pairs.length === 0 ? "" : `: ${pairs.join(" ")}`;
  return `${text} ${levelTag[level]}${module}${e.message}${rest}\n`;
}

interface Subscriber {
  readonly levelValue: number;
  readonly json: boolean;
  readonly listener: (line: string) => void;
}

const reservedKeys = new Set(["@level", "@timestamp", "@module", "@message"]);

export function createLogger(options: LoggerOptions): RootLogger {
  const write = options.write ?? ((line: string) => void process.stdout.write(line));
  const nowMs = options.nowMs ?? Date.now;
  const file = options.file === undefined ? undefined : openLogFile(options.file, nowMs());
  let level = options.level;
  const subscribers = new Set<Subscriber>();

  const sink = {
    write(json: string): void {
      const entry = decode(json);
      if (entry.levelValue >= levelValues[level]) {
        const line = options.json === true ? entry.json : textLine(entry);
        write(line);
        if (file !== undefined) fs.writeSync(file, line);
      }
      for (const s of subscribers) {
        if (entry.levelValue < s.levelValue) continue;
        try {
          s.listener(s.json ? entry.json : textLine(entry));
        } catch {
          // A subscriber that throws (a closed monitor connection) must not break logging.
        }
      }
    },
  };
  const base = pino(
    {
      level: "trace",
      base: null,
      messageKey: "@message",
      timestamp: () => `,"@timestamp":"${formatJsonTimestamp(nowMs())}"`,
      formatters: { level: (label) => ({ "@level": label }) },
    },
    sink,
  );

  const syncPinoLevel = (): void => {
    let min = levelValues[level];
    for (const s of subscribers) min = Math.min(min, s.levelValue);
    base.level = levelByValue.get(min)!;
  };
  syncPinoLevel();

  const make = (name: string): Logger => {
    const emit = (lvl: LogLevel, message: string, fields?: LogFields): void => {
      if (!base.isLevelEnabled(lvl)) return;
      base[lvl](prepare(name, fields), message);
    };
    return {
      name,
      trace: (m, f) => emit("trace", m, f),
      debug: (m, f) => emit("debug", m, f),
      info: (m, f) => emit("info", m, f),
      warn: (m, f) => emit("warn", m, f),
      error: (m, f) => emit("error", m, f),
      named: (sub) => make(name === "" ? sub : `${name}.${sub}`),
      isLevelEnabled: (lvl) => base.isLevelEnabled(lvl),
    };
  };
  const root = make("");
  return {
    ...root,
    get level() {
      return level;
    },
    setLevel(next: LogLevel): void {
      level = next;
      syncPinoLevel();
    },
    subscribe(opts, listener) {
      const s: Subscriber = { levelValue: levelValues[opts.level], json: opts.json === true, listener };
      subscribers.add(s);
      syncPinoLevel();
      return () => {
        subscribers.delete(s);
        syncPinoLevel();
      };
    },
    close(): void {
      if (file !== undefined) fs.closeSync(file);
    },
  };
}

/** The object pino serialises: the module first, then the fields (Errors as their messages). */
function prepare(module: string, fields: LogFields | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = module === "" ? {} : { "@module": module };
  if (fields === undefined) return out;
  for (const [k, v] of Object.entries(fields)) {
    const key = reservedKeys.has(k) ? `_${k}` : k;
    out[key] = v instanceof Error ? v.message : typeof v === "bigint" ? v.toString() : v;
  }
  return out;
}

const levelByLabel: Readonly<Record<string, number>> = levelValues;

function decode(json: string): Entry {
  const obj = JSON.parse(json) as Record<string, unknown>;
  const fields: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) if (!reservedKeys.has(k)) fields[k] = v;
  return {
    levelValue: levelByLabel[String(obj["@level"])] ?? 30,
    timestamp: String(obj["@timestamp"]),
    module: String(obj["@module"] ?? ""),
    message: String(obj["@message"] ?? ""),
    fields,
    json: json.endsWith("\n") ? json : `${json}\n`,
  };
}

function openLogFile(target: string, nowMs: number): number {
  let file = target;
  const isDir = target.endsWith("/") || target.endsWith(path.sep) || (fs.existsSync(target) && fs.statSync(target).isDirectory());
  if (isDir) {
    fs.mkdirSync(target, { recursive: true });
    file = path.join(target, `praetor-${nowMs}.log`);
  } else fs.mkdirSync(path.dirname(target), { recursive: true });
  return fs.openSync(file, "a");
}
