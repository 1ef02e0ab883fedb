/** An in-memory file tree for loadConfig: paths ending in "/" in the listing are directories. */
import * as path from "node:path";
import type { ConfigIo } from "../../src/agent/config/index.ts";

export function fakeIo(files: Readonly<Record<string, string>>, hostname = "host-1"): ConfigIo & { reads: string[] } {
  const reads: string[] = [];
  const dirs = new Set<string>();
  for (const file of Object.keys(files)) {
    for (let dir = path.dirname(file); dir !== "/" && dir !== "."; dir = path.dirname(dir)) dirs.add(dir);
  }
  const enoent = (p: string) => Object.assign(new Error(`ENOENT: ${p}`), { code: "ENOENT" });
  return {
    reads,
    hostname: () => hostname,
    readFile: (file) => {
      if (!Object.hasOwn(files, file)) throw enoent(file);
      reads.push(file);
      return files[file]!;
    },
    stat: (p) => {
      if (dirs.has(p)) return { isDirectory: () => true, isFile: () => false };
      if (Object.hasOwn(files, p)) return { isDirectory: () => false, isFile: () => true };
      throw enoent(p);
    },
    readDir: (dir) => {
      const names = new Set<string>();
      for (const p of [...Object.keys(files), ...dirs]) if (path.dirname(p) === dir) names.add(path.basename(p));
      // Unsorted on purpose: the loader must sort.
      return [...names].reverse();
    },
  };
}
