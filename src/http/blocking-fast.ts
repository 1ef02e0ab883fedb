import type { ServerResponse } from "node:http";
import type { ReadResult } from "../agent/api.ts";

export interface RenderedAnswer {
  readonly status: number;
  readonly body: string;
}

export class BlockingAnswers {
  private readonly cache = new WeakMap<object, { headers: string[]; body: string; status: number }>();

  write(res: ServerResponse, result: ReadResult<unknown>, render: () => RenderedAnswer): void {
    let entry = this.cache.get(result);
    if (entry === undefined) {
      const { status, body } = render();
      const meta = result.meta;
      const headers = [
        "X-Consul-Index", String(Math.max(1, Math.floor(meta.index))),
        "X-Consul-KnownLeader", meta.knownLeader ? "true" : "false",
        "X-Consul-LastContact", String(Math.max(0, Math.round(meta.lastContactMs))),
        "X-Consul-Effective-Consistency", meta.consistency === "default" ? "leader" : meta.consistency,
        "Content-Type", "application/json; charset=utf-8",
        "Content-Length", String(Buffer.byteLength(body)),
      ];
      entry = { headers, body, status };
      this.cache.set(result, entry);
    }
    res.writeHead(entry.status, entry.headers);
    res.end(entry.body);
  }
}
