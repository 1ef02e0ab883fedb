/**
 * Logging for the gossip transport. The caller passes a logger function (the agent adapts its pino
 * logger: `(level, msg, fields) => log[level](fields, msg)`); we never write to a stream ourselves.
 *
 * memberlist logs every malformed packet with its sender. A hostile or broken peer can send
 * thousands a second, so drops are rate-limited per reason: the first of a reason is logged at
 * once, then at most one line per interval, carrying how many more were dropped in between.
 */
export type GossipLogLevel = "debug" | "info" | "warn" | "error";

/** `fields` always holds `peer` ("ip:port") for anything about a peer, and `reason` for a drop. */
export type GossipLogger = (level: GossipLogLevel, msg: string, fields: Readonly<Record<string, unknown>>) => void;

export const dropLogIntervalMsDefault = 10_000;

interface ReasonWindow {
  lastLoggedMs: number;
  suppressed: number;
}

export class DropLog {
  private readonly windows = new Map<string, ReasonWindow>();
  /** Lines actually written, and drops folded into a later line: for tests and metrics. */
  linesLogged = 0;
  linesSuppressed = 0;

  constructor(
    private readonly logger: GossipLogger | undefined,
    private readonly intervalMs = dropLogIntervalMsDefault,
    private readonly nowMs: () => number = () => performance.now(),
  ) {}

  /** One dropped input: logged now, or counted into the next line for `reason`. */
  drop(level: GossipLogLevel, reason: string, msg: string, fields: Readonly<Record<string, unknown>>): void {
    if (this.logger === undefined) return;
    const now = this.nowMs();
    const w = this.windows.get(reason);
    if (w !== undefined && now - w.lastLoggedMs < this.intervalMs) {
      w.suppressed++;
      this.linesSuppressed++;
      return;
    }
    const suppressed = w?.suppressed ?? 0;
    this.windows.set(reason, { lastLoggedMs: now, suppressed: 0 });
    this.linesLogged++;
    this.logger(level, msg, suppressed > 0 ? { ...fields, reason, suppressedSinceLast: suppressed } : { ...fields, reason });
  }

  /** Not rate-limited: rare events worth a line each (a refused push/pull, a remote error). */
  log(level: GossipLogLevel, msg: string, fields: Readonly<Record<string, unknown>>): void {
    this.logger?.(level, msg, fields);
  }
}
