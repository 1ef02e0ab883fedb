// Module resolve hook for the mutation runner: test files import "ava"; inside the runner that
// import resolves to the in-process shim, so every test runs in the runner's own process.
const shimUrl = new URL("./ava-shim.ts", import.meta.url).href;

export async function resolve(specifier, context, nextResolve) {
  if (specifier === "ava") return { url: shimUrl, shortCircuit: true };
  return nextResolve(specifier, context);
}
