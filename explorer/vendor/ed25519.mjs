// The explorer's Ed25519 fallback: @noble/ed25519's verify with @noble/hashes' SHA-512,
// synchronous, so it needs neither WebCrypto's Ed25519 nor crypto.subtle at all.
import { hashes, verify } from "@noble/ed25519";
import { sha512 } from "@noble/hashes/sha2.js";

hashes.sha512 = sha512;

/* RFC 8032 / FIPS 186-5 verification (zip215: false): true or false, never throws for a
 * signature or key of the right length. */
export function verifyEd25519(signature, message, publicKey) {
  return verify(signature, message, publicKey, { zip215: false });
}
