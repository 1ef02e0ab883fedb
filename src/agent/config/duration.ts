/**
 * Go's duration syntax (`time.ParseDuration`), which Consul's config files and flags use:
 * "30s", "1h30m", "1.5h", "500ms", "87600h", "-2s"; a bare "0" is the only unitless value.
 * Values are returned in (possibly fractional) milliseconds; the caller rounds if it needs to.
 */

const unitMs: Readonly<Record<string, number>> = {
  ns: 1e-6,
  us: 1e-3,
  "µs": 1e-3, // U+00B5 micro sign
  "μs": 1e-3, // U+03BC Greek mu
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
};

const part = /^(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)/;

/** Parses a Go duration into milliseconds, or returns null when the text is not one. */
export function parseDurationMs(text: string): number | null {
  let rest = text;
  let sign = 1;
  if (rest.startsWith("-") || rest.startsWith("+")) {
    sign = rest.startsWith("-") ? -1 : 1;
    rest = rest.slice(1);
  }
  if (rest === "0") return 0;
  if (rest === "") return null;
  let totalMs = 0;
  while (rest !== "") {
    const m = part.exec(rest);
    if (m === null) return null;
    totalMs += Number(m[1]) * unitMs[m[2]!]!;
    rest = rest.slice(m[0].length);
  }
  return sign * totalMs;
}

/**
 * Formats milliseconds the way Go's `Duration.String` does ("72h0m0s", "1m30s", "500ms", "0s"),
 * for messages that quote a limit back to the operator.
 */
export function formatDurationMs(ms: number): string {
  if (ms === 0) return "0s";
  const sign = ms < 0 ? "-" : "";
  const abs = Math.abs(ms);
  if (abs < 1_000) return `${sign}${trimNumber(abs)}ms`;
  const hours = Math.floor(abs / 3_600_000);
  const minutes = Math.floor((abs % 3_600_000) / 60_000);
  const seconds = (abs % 60_000) / 1_000;
  if (hours > 0) return `${sign}${hours}h${minutes}m${trimNumber(seconds)}s`;
  if (minutes > 0) return `${sign}${minutes}m${trimNumber(seconds)}s`;
  return `${sign}${trimNumber(seconds)}s`;
}

function trimNumber(n: number): string {
  return String(Number(n.toFixed(9)));
}
