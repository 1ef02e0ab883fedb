/**
 * The version `praetor version` and the agent print. Kept here (not read from package.json at run
 * time) so `praetor version` loads nothing else; test/cli/version.test.ts checks it matches
 * package.json. The build may replace REVISION with the commit it was built from.
 */
export const VERSION = "0.1.0";
export const REVISION = "unknown";
/** Serf's protocol range, as Consul reports it. */
export const PROTOCOL_DEFAULT = 2;
export const PROTOCOL_MIN = 2;
export const PROTOCOL_MAX = 3;

export function versionText(): string {
  return [
    `Praetor v${VERSION}`,
    `Revision ${REVISION}`,
    `Protocol ${PROTOCOL_DEFAULT} spoken by default, understands ${PROTOCOL_MIN} to ${PROTOCOL_MAX} (agent will automatically use protocol >2 when speaking to compatible agents)`,
    "",
  ].join("\n");
}
