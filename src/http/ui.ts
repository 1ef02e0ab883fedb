/**
 * `/ui`: serves a built web UI from `uiDir` (single-page app: unknown paths get index.html), or,
 * when there is none, a small placeholder page. The real UI is a later issue.
 */
import { readFile, stat } from "node:fs/promises";
import { extname, join, normalize, sep } from "node:path";
import type Koa from "koa";

const types: Record<string, string> = {
  ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
  ".json": "application/json", ".svg": "image/svg+xml", ".png": "image/png", ".ico": "image/x-icon",
  ".woff2": "font/woff2", ".map": "application/json",
};

export const placeholderPage = `<!doctype html>
<html><head><meta charset="utf-8"><title>Praetor</title></head>
<body><h1>Praetor</h1><p>The web UI is not installed. The HTTP API is served under <code>/v1/</code>.</p></body></html>
`;

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

async function readIfFile(path: string): Promise<Buffer | null> {
  try {
    if (!(await stat(path)).isFile()) return null;
    return await readFile(path);
  } catch {
    return null;
  }
}

export async function serveUi(ctx: Koa.Context, path: string, uiDir: string | undefined): Promise<void> {
  if (uiDir === undefined || !(await isDirectory(uiDir))) {
    ctx.type = "text/html; charset=utf-8";
    ctx.body = placeholderPage;
    return;
  }
  const relative = normalize(path.slice("/ui".length)).replace(/^([/\\])+/, "");
  const root = normalize(uiDir);
  const target = join(root, relative === "" || relative === "." ? "index.html" : relative);
  const inside = target === root || target.startsWith(root.endsWith(sep) ? root : root + sep);
  const file = inside ? await readIfFile(target) : null;
  if (file !== null) {
    ctx.type = types[extname(target)] ?? "application/octet-stream";
    ctx.body = file;
    return;
  }
  const index = await readIfFile(join(root, "index.html"));
  ctx.type = "text/html; charset=utf-8";
  ctx.body = index ?? placeholderPage;
}
