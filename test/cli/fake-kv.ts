/**
 * A small fake of the agent's KV and session API with Consul's semantics where watch and lock
 * depend on them: a global index, blocking GETs (?index, woken by any write), acquire/release with
 * sessions, CAS, and session create/renew/destroy (destroy releases the session's locks).
 * No lock-delay: a freed lock can be taken at once.
 */
import * as http from "node:http";
import type { AddressInfo } from "node:net";

interface Entry {
  key: string;
  value: Buffer;
  flags: string;
  session?: string;
  createIndex: number;
  modifyIndex: number;
  lockIndex: number;
}

export interface FakeKv {
  readonly addr: string;
  readonly entries: Map<string, Entry>;
  readonly sessions: Set<string>;
  /** Writes a key from the test side (wakes blocked readers). */
  put(key: string, value: string): void;
  /** Ends a session as a TTL expiry would (its locks are released). */
  expire(session: string): void;
  close(): Promise<void>;
}

export async function fakeKv(): Promise<FakeKv> {
  const entries = new Map<string, Entry>();
  const sessions = new Set<string>();
  let index = 1;
  let waiters: (() => void)[] = [];
  let sessionSeq = 0;
  const bump = () => {
    index++;
    const w = waiters;
    waiters = [];
    for (const wake of w) wake();
  };
  const write = (key: string, value: Buffer, flags: string, session?: string) => {
    const prev = entries.get(key);
    entries.set(key, {
      key, value, flags, createIndex: prev?.createIndex ?? index + 1, modifyIndex: index + 1, lockIndex: prev?.lockIndex ?? 0,
      ...(session === undefined ? (prev?.session === undefined ? {} : { session: prev.session }) : { session }),
    });
    bump();
  };
  const json = (e: Entry) => ({
    Key: e.key, CreateIndex: e.createIndex, ModifyIndex: e.modifyIndex, LockIndex: e.lockIndex, Flags: 0,
    Value: e.value.length === 0 ? null : e.value.toString("base64"), ...(e.session === undefined ? {} : { Session: e.session }),
  });
  const releaseAll = (session: string) => {
    for (const e of entries.values()) if (e.session === session) delete e.session;
    sessions.delete(session);
    bump();
  };

  const server = http.createServer((req, res) => {
    const url = new URL(req.url!, "http://x");
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const send = (status: number, payload: unknown) => {
        res.writeHead(status, { "content-type": "application/json", "x-consul-index": String(index) }).end(typeof payload === "string" ? payload : JSON.stringify(payload));
      };
      const p = url.pathname;
      const q = url.searchParams;
      if (p === "/v1/agent/self") return send(200, { Config: { NodeName: "fake" } });
      if (p === "/v1/session/create") {
        const id = `00000000-0000-0000-0000-${String(++sessionSeq).padStart(12, "0")}`;
        sessions.add(id);
        return send(200, { ID: id });
      }
      if (p.startsWith("/v1/session/renew/")) return sessions.has(p.slice(18)) ? send(200, [{ ID: p.slice(18) }]) : send(404, "Session id not found");
      if (p.startsWith("/v1/session/destroy/")) {
        releaseAll(p.slice(20));
        return send(200, true);
      }
      if (!p.startsWith("/v1/kv/")) return send(404, "no route");
      const key = decodeURIComponent(p.slice(7));
      if (req.method === "GET") {
        const answer = () => {
          const list = q.has("recurse") ? [...entries.values()].filter((e) => e.key.startsWith(key)).sort((a, b) => (a.key < b.key ? -1 : 1)) : entries.has(key) ? [entries.get(key)!] : [];
          if (list.length === 0) return send(404, "");
          send(200, list.map(json));
        };
        const wantIndex = Number(q.get("index") ?? 0);
        if (wantIndex > 0 && wantIndex >= index) {
          const timer = setTimeout(() => answer(), 2_000);
          waiters.push(() => {
            clearTimeout(timer);
            answer();
          });
          return;
        }
        return answer();
      }
      if (req.method === "DELETE") {
        for (const k of [...entries.keys()]) if (q.has("recurse") ? k.startsWith(key) : k === key) entries.delete(k);
        bump();
        return send(200, true);
      }
      const flags = q.get("flags") ?? "0";
      const current = entries.get(key);
      if (q.has("cas") && Number(q.get("cas")) !== (current?.modifyIndex ?? 0)) return send(200, false);
      if (q.has("acquire")) {
        const s = q.get("acquire")!;
        if (!sessions.has(s)) return send(500, `invalid session "${s}"`);
        if (current?.session !== undefined && current.session !== s) return send(200, false);
        write(key, body, flags, s);
        entries.get(key)!.lockIndex++;
        return send(200, true);
      }
      if (q.has("release")) {
        if (current?.session !== q.get("release")) return send(200, false);
        delete current!.session;
        bump();
        return send(200, true);
      }
      write(key, body, flags);
      return send(200, true);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    addr: `127.0.0.1:${port}`,
    entries,
    sessions,
    put: (key, value) => write(key, Buffer.from(value), "0"),
    expire: (session) => releaseAll(session),
    close: () => new Promise((resolve) => {
      for (const wake of waiters) wake();
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
