/** What a command touches outside itself, so tests can run commands in-process and read their output. */
export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Aborted on SIGINT/SIGTERM (long-running commands such as monitor stop on it). */
  readonly signal: AbortSignal;
  /** All of standard input (kv put KEY -, kv import -); absent means empty. */
  readonly readStdin?: () => Promise<Buffer>;
}

/**
 * The real process. The SIGINT/SIGTERM handlers are installed only when a command asks for the
 * signal (monitor does), so every other command keeps Node's default: Ctrl-C ends it at once.
 */
export function processIo(): CliIo {
  let controller: AbortController | undefined;
  return {
    stdout: (text) => void process.stdout.write(text),
    stderr: (text) => void process.stderr.write(text),
    env: process.env,
    readStdin: async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks);
    },
    get signal(): AbortSignal {
      if (controller === undefined) {
        const c = new AbortController();
        controller = c;
        process.once("SIGINT", () => c.abort());
        process.once("SIGTERM", () => c.abort());
      }
      return controller.signal;
    },
  };
}

/** Writes `text` and a newline, as Go's cli.Ui Output/Error do. */
export function println(write: (text: string) => void, text: string): void {
  write(text.endsWith("\n") ? text : `${text}\n`);
}
