#!/usr/bin/env node
// Sign EIP-712 typed data with ethers (a second implementation besides eth-account, ADR 0037).
//
// Reads a prepare answer (POST …/prepare) or one typed data document on stdin, and the
// private key from the environment variable SIGNER_PRIVATE_KEY; prints the signatures,
// one per typed data, as a JSON list. Run from this directory: node bin/sign-typed-data.mjs
import { Wallet } from "ethers";

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const input = JSON.parse(Buffer.concat(chunks).toString("utf8"));
const documents = Array.isArray(input.typed_data) ? input.typed_data : [input];
const key = process.env.SIGNER_PRIVATE_KEY;
if (!key) {
  console.error("error: set SIGNER_PRIVATE_KEY to the signing key (0x and 64 hex digits)");
  process.exit(2);
}
const wallet = new Wallet(key);
const signatures = [];
for (const typed of documents) {
  // ethers takes the types without EIP712Domain: it derives that one from the domain.
  const { EIP712Domain, ...types } = typed.types;
  signatures.push(await wallet.signTypedData(typed.domain, types, typed.message));
}
console.log(JSON.stringify(signatures));
