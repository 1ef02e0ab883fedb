export * from "./types.ts";
export * from "./node.ts";
export { raftTicks, type RaftTicks } from "./config.ts";
export { applyConfChange, checkConfChange, decodeConfChange, decodeConfEntry, encodeConfEntry, ConfTracker, type ConfEntry } from "./confchange.ts";
export { quorumSize, quorumValue, voteResult, type VoteResult } from "./quorum.ts";
export { Progress, Inflights, type ProgressState } from "./progress.ts";
export { RaftLog } from "./log.ts";
export { Timeout } from "./timeout.ts";
