/**
 * The pluggable transport: the one seam between a pure core and the network. The simulator's
 * network implements it now (delivering messages through its seeded fault model); real UDP/TCP
 * sockets implement it in production. The cores never see it: the runtime above a core takes the
 * core's outgoing messages and calls `send`, and feeds what `onMessage` delivers back into the core.
 */
export interface Transport<M> {
  /** This endpoint's own address, as peers name it. */
  readonly localAddr: string;
  /** Send one message to a peer; delivery is best effort (the network may drop, delay or reorder). */
  send(to: string, message: M): void;
  /** Register the single receiver of incoming messages. */
  onMessage(handler: (from: string, message: M) => void): void;
  /** Stop sending and receiving; pending deliveries are dropped. */
  close(): Promise<void> | void;
}
