import { randomInt, type Rng } from "../util/rng.ts";

/**
 * A version-4-shaped UUID drawn from the injected generator. The leader draws a session's ID
 * before proposing `session.create`, so every server applies the same ID.
 */
export function newSessionId(rng: Rng): string {
  let hex = "";
  for (let i = 0; i < 32; i++) hex += randomInt(rng, 0, 15).toString(16);
  const variant = ((parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}
