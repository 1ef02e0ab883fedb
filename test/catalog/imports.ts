export * from "../../src/core/catalog/index.ts";

export function utf8Text(bytes: Uint8Array | null): string {
  return bytes === null ? "" : new TextDecoder().decode(bytes);
}
