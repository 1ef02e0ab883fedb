import tseslint from "typescript-eslint";

// src/core is a pure state machine: time, randomness and I/O are injected by the caller.
// These rules make a clock, a timer, a random number or an I/O import in the core a lint error.
const impureGlobals = [
  "Date", "setTimeout", "setInterval", "setImmediate", "clearTimeout", "clearInterval",
  "clearImmediate", "queueMicrotask", "process", "performance", "require", "fetch",
  "crypto", "Buffer",
].map((name) => ({ name, message: `src/core is pure: inject ${name} from the caller instead.` }));

const ioModules = [
  "fs", "net", "dgram", "child_process", "os", "http", "https", "http2", "worker_threads",
  "crypto", "dns", "tls", "cluster", "readline", "perf_hooks", "timers", "process",
  "seedrandom", "classic-level",
].flatMap((m) => [m, `node:${m}`, `${m}/*`, `node:${m}/*`]);

export default tseslint.config(
  { ignores: ["dist/**", "node_modules/**", "coverage/**", ".stryker-tmp*/**", "reports/**"] },
  {
    files: ["**/*.ts"],
    languageOptions: { parser: tseslint.parser },
    plugins: { "@typescript-eslint": tseslint.plugin },
    rules: {},
  },
  {
    files: ["src/core/**/*.ts"],
    rules: {
      "no-restricted-globals": ["error", ...impureGlobals],
      "no-restricted-imports": ["error", { paths: ioModules.filter((m) => !m.endsWith("/*")), patterns: ioModules.filter((m) => m.endsWith("/*")) }],
      "no-restricted-properties": ["error",
        { object: "Math", property: "random", message: "src/core is pure: use the injected Rng." },
        { object: "globalThis", message: "src/core is pure: no ambient globals." },
      ],
    },
  },
);
