/**
 * memberlist's gossip encryption (security.go, keyring.go): AES-GCM with a 16, 24 or 32-byte key
 * (AES-128/192/256), the keys given in base64 as `serf keygen` and `consul keygen` print them.
 * A sealed payload is [version byte][12-byte random nonce][ciphertext][16-byte tag]:
 *   version 0: the plaintext is PKCS7-padded to the AES block size first (memberlist protocol 1);
 *   version 1: no padding (protocol 2 and later; what we send).
 * The primary key seals what we send; every key in the ring is tried to open what we receive, so
 * a pool can rotate keys (install the new one everywhere, make it primary, then remove the old).
 */
import type * as NodeCrypto from "node:crypto";
import { createRequire } from "node:module";
import { WireError } from "../core/gossip/wire/errors.ts";

/**
 * node:crypto loads with the first key used: loading it starts OpenSSL, about 2 MB of RSS that a
 * member gossiping in the clear never needs.
 */
let nodeCrypto: typeof NodeCrypto | null = null;
function crypto(): typeof NodeCrypto {
  nodeCrypto ??= createRequire(import.meta.url)("node:crypto") as typeof NodeCrypto;
  return nodeCrypto;
}

const nonceBytes = 12;
const tagBytes = 16;
const blockBytes = 16;
/** The encryption version we seal with (memberlist uses 1 for every protocol version above 1). */
export const encryptionVersion = 1;

/** memberlist encryptOverhead(1): version, nonce and tag. */
export const encryptOverheadBytes = 1 + nonceBytes + tagBytes;

/** memberlist encryptedLength for version 1. */
export function encryptedBytes(plainBytes: number): number {
  return 1 + nonceBytes + plainBytes + tagBytes;
}

function cipherName(key: Uint8Array): "aes-128-gcm" | "aes-192-gcm" | "aes-256-gcm" {
  return key.length === 16 ? "aes-128-gcm" : key.length === 24 ? "aes-192-gcm" : "aes-256-gcm";
}

/** memberlist ValidateKey: the message names the length, never the key. */
export function validateKey(key: Uint8Array): void {
  if (key.length !== 16 && key.length !== 24 && key.length !== 32) {
    throw new Error(`gossip encryption key must be 16, 24 or 32 bytes (AES-128/192/256), got ${key.length}`);
  }
}

/** A base64 key as `serf keygen` prints it. */
export function decodeKey(base64: string): Uint8Array {
  const trimmed = base64.trim();
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(trimmed) || trimmed.length % 4 !== 0) {
    throw new Error("gossip encryption key is not valid base64");
  }
  const key = Uint8Array.from(Buffer.from(trimmed, "base64"));
  validateKey(key);
  return key;
}

export function encodeKey(key: Uint8Array): string {
  return Buffer.from(key).toString("base64");
}

export class GossipKeyring {
  private keys: Uint8Array[];

  /** `keys[0]` is the primary key. */
  constructor(keys: readonly Uint8Array[]) {
    if (keys.length === 0) throw new Error("a keyring needs at least one key");
    for (const k of keys) validateKey(k);
    this.keys = keys.map((k) => Uint8Array.from(k));
  }

  /** From base64 keys: the primary first, then others accepted for decryption. */
  static fromBase64(primary: string, extra: readonly string[] = []): GossipKeyring {
    return new GossipKeyring([decodeKey(primary), ...extra.map(decodeKey)]);
  }

  get primaryKey(): Uint8Array {
    return this.keys[0]!;
  }

  /** Every key, the primary first, in base64. */
  list(): string[] {
    return this.keys.map(encodeKey);
  }

  /** Adds a key for decryption (no-op when present). */
  addKey(key: Uint8Array): void {
    validateKey(key);
    if (this.indexOf(key) < 0) this.keys.push(Uint8Array.from(key));
  }

  /** Makes an installed key the primary (memberlist UseKey). */
  useKey(key: Uint8Array): void {
    const i = this.indexOf(key);
    if (i < 0) throw new Error("requested key is not in the keyring");
    const [k] = this.keys.splice(i, 1);
    this.keys.unshift(k!);
  }

  /** Removes a key; the primary cannot be removed (memberlist RemoveKey). */
  removeKey(key: Uint8Array): void {
    const i = this.indexOf(key);
    if (i === 0) throw new Error("removing the primary key is not allowed");
    if (i > 0) this.keys.splice(i, 1);
  }

  /** Seals with the primary key: [1][nonce][ciphertext][tag]. */
  encrypt(plain: Uint8Array, aad: Uint8Array): Uint8Array {
    const key = this.primaryKey;
    const nonce = crypto().randomBytes(nonceBytes);
    const cipher = crypto().createCipheriv(cipherName(key), key, nonce, { authTagLength: tagBytes });
    cipher.setAAD(aad);
    const out = new Uint8Array(encryptedBytes(plain.length));
    out[0] = encryptionVersion;
    out.set(nonce, 1);
    const body = cipher.update(plain);
    out.set(body, 1 + nonceBytes);
    const tail = cipher.final();
    out.set(tail, 1 + nonceBytes + body.length);
    out.set(cipher.getAuthTag(), 1 + nonceBytes + body.length + tail.length);
    return out;
  }

  /** Opens with whichever key fits; WireError "key-mismatch" when none does. */
  decrypt(payload: Uint8Array, aad: Uint8Array): Uint8Array {
    if (payload.length === 0) throw new WireError("key-mismatch", "cannot decrypt empty payload");
    const version = payload[0]!;
    if (version > 1) throw new WireError("key-mismatch", `unsupported encryption version ${version}`);
    const minBytes = version === 0 ? 1 + nonceBytes + blockBytes + tagBytes : 1 + nonceBytes + tagBytes;
    if (payload.length < minBytes) throw new WireError("key-mismatch", `payload is too small to decrypt: ${payload.length}`);
    const nonce = payload.subarray(1, 1 + nonceBytes);
    const ciphertext = payload.subarray(1 + nonceBytes, payload.length - tagBytes);
    const tag = payload.subarray(payload.length - tagBytes);
    for (const key of this.keys) {
      const plain = open(key, nonce, ciphertext, tag, aad);
      if (plain === null) continue;
      return version === 0 ? unpad(plain) : plain;
    }
    throw new WireError("key-mismatch", "no installed keys could decrypt the message");
  }

  private indexOf(key: Uint8Array): number {
    return this.keys.findIndex((k) => k.length === key.length && k.every((b, i) => b === key[i]));
  }
}

function open(key: Uint8Array, nonce: Uint8Array, ciphertext: Uint8Array, tag: Uint8Array, aad: Uint8Array): Uint8Array | null {
  try {
    const decipher = crypto().createDecipheriv(cipherName(key), key, nonce, { authTagLength: tagBytes });
    decipher.setAAD(aad);
    decipher.setAuthTag(tag);
    const head = decipher.update(ciphertext);
    const tail = decipher.final();
    const out = new Uint8Array(head.length + tail.length);
    out.set(head, 0);
    out.set(tail, head.length);
    return out;
  } catch {
    return null;
  }
}

/** PKCS7 (version 0): the last byte says how many padding bytes to drop. */
function unpad(plain: Uint8Array): Uint8Array {
  const pad = plain.length === 0 ? 0 : plain[plain.length - 1]!;
  if (pad < 1 || pad > blockBytes || pad > plain.length) throw new WireError("key-mismatch", `bad PKCS7 padding ${pad}`);
  return plain.subarray(0, plain.length - pad);
}
