/** `praetor keygen`: a new gossip encryption key, 32 random bytes in base64 (what -encrypt takes). */
import { randomBytes } from "node:crypto";
import type { Command } from "../command.ts";
import { println } from "../io.ts";

export function newGossipKey(): string {
  return randomBytes(32).toString("base64");
}

export const keygenCommand: Command = {
  help: `
Usage: praetor keygen

  Generates a new encryption key that can be used to configure the
  agent to encrypt traffic. The output of this command is already
  in the proper format that the agent expects.
`,
  flags: [],
  async run(parsed, io) {
    if (parsed.args.length > 0) {
      println(io.stderr, `Error found unexpected args: ${parsed.args.join(" ")}`);
      return 1;
    }
    println(io.stdout, newGossipKey());
    return 0;
  },
};
