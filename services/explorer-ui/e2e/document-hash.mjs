// Prints the notary document hash of a file: unkeyed BLAKE2b-256 of its
// bytes, as the explorer's notary page computes it in the browser.
import { readFileSync } from "node:fs";
import { blake2b } from "@noble/hashes/blake2.js";

const path = process.argv[2];
if (!path) {
  console.error("usage: node e2e/document-hash.mjs FILE");
  process.exit(2);
}
console.log(Buffer.from(blake2b(readFileSync(path), { dkLen: 32 })).toString("hex"));
