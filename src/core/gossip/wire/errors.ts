/**
 * The one error the wire codec throws. Transports catch it, count it by `reason` and drop the
 * packet: a malformed packet from the network is an expected event, never a crash.
 */
export type WireErrorReason =
  | "empty"
  | "truncated"
  | "oversized"
  | "bad-crc"
  | "bad-msgpack"
  | "bad-field"
  | "unknown-type"
  | "unsupported"
  | "bad-compression"
  | "bad-label"
  /** Encrypted, and none of our keys opens it (memberlist: "no installed keys could decrypt the message"). */
  | "key-mismatch"
  /** We have a keyring and the peer sent plaintext (memberlist GossipVerifyIncoming). */
  | "not-encrypted";

export class WireError extends Error {
  override name = "WireError";
  constructor(readonly reason: WireErrorReason, message: string) {
    super(`${reason}: ${message}`);
  }
}

export function wireFail(reason: WireErrorReason, message: string): never {
  throw new WireError(reason, message);
}
