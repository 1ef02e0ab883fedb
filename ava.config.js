export default {
  files: ["test/**/*.test.ts", "property-tests/**/*.test.ts"],
  extensions: { ts: "module" },
  nodeArguments: ["--import=tsx"],
  timeout: "5m",
  workerThreads: false,
  concurrency: 2,
};
