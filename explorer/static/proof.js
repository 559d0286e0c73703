/* The proof's arithmetic (DESIGN §6), for the donation page's verifier (verify.js) and the
 * signed-note checks (signed-note.js): bytes, SHA-256 (WebCrypto, else sha256.js), an entry's
 * canonical JSON (RFC 8785) and leaf hash, and the root an inclusion proof (RFC 9162) leads to.
 * Pure and synchronous but for the hashes: the tests run it under Node.
 */
(function (root, factory) {
  "use strict";
  var node = typeof module === "object" && module.exports;
  if (node) module.exports = factory(root, require("./sha256.js"));
  else root.ShanlianProof = factory(root, root.ShanlianSha256);
})(typeof globalThis !== "undefined" ? globalThis : this, function (root, sha) {
  "use strict";

  var LEAF_PREFIX = 0x00; // RFC 6962 §2.1: leaf hashes are SHA-256(0x00 ‖ leaf)
  var NODE_PREFIX = 0x01; // and interior nodes SHA-256(0x01 ‖ left ‖ right)
  var forceFallback = false;

  // -- bytes and hashes --------------------------------------------------------------------

  function utf8(text) {
    return new TextEncoder().encode(text);
  }

  function concat() {
    var total = 0, i;
    for (i = 0; i < arguments.length; i++) total += arguments[i].length;
    var out = new Uint8Array(total), at = 0;
    for (i = 0; i < arguments.length; i++) {
      out.set(arguments[i], at);
      at += arguments[i].length;
    }
    return out;
  }

  function toHex(bytes) {
    var out = "0x";
    for (var i = 0; i < bytes.length; i++) out += (bytes[i] < 16 ? "0" : "") + bytes[i].toString(16);
    return out;
  }

  function fromHex(text, size) {
    var hex = String(text).replace(/^0x/, "");
    if (!/^([0-9a-fA-F]{2})*$/.test(hex) || (size !== undefined && hex.length !== 2 * size)) {
      throw new Error("not " + (size ? size + " bytes of " : "") + "hex: " + text);
    }
    var out = new Uint8Array(hex.length / 2);
    for (var i = 0; i < out.length; i++) out[i] = parseInt(hex.substr(2 * i, 2), 16);
    return out;
  }

  function subtle() {
    return !forceFallback && root.crypto && root.crypto.subtle ? root.crypto.subtle : null;
  }

  function sha256(bytes) {
    var webcrypto = subtle();
    if (webcrypto) {
      return webcrypto.digest("SHA-256", bytes).then(function (digest) {
        return new Uint8Array(digest);
      });
    }
    return Promise.resolve(sha.sha256(bytes));
  }

  function equalBytes(a, b) {
    if (a.length !== b.length) return false;
    for (var i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }

  // -- RFC 8785 for our entries ------------------------------------------------------------

  /* Canonical JSON of a value holding only strings, safe integers, booleans, null, arrays
   * and objects: keys sorted by UTF-16 code units (JavaScript's default sort), no spaces.
   * JSON.stringify escapes strings exactly as RFC 8785 does. */
  function canonicalize(value) {
    if (value === null || typeof value === "boolean" || typeof value === "string") {
      return JSON.stringify(value);
    }
    if (typeof value === "number") {
      if (!Number.isSafeInteger(value)) throw new Error("not an exact integer: " + value);
      return JSON.stringify(value);
    }
    if (Array.isArray(value)) {
      return "[" + value.map(canonicalize).join(",") + "]";
    }
    if (typeof value === "object") {
      return (
        "{" +
        Object.keys(value)
          .sort()
          .map(function (key) {
            return JSON.stringify(key) + ":" + canonicalize(value[key]);
          })
          .join(",") +
        "}"
      );
    }
    throw new Error("not JSON: " + typeof value);
  }

  function leafHash(entry) {
    return sha256(concat([LEAF_PREFIX], utf8(canonicalize(entry))));
  }

  function nodeHash(left, right) {
    return sha256(concat([NODE_PREFIX], left, right));
  }

  // -- RFC 9162 §2.1.3.2 -------------------------------------------------------------------

  /* The root that an inclusion proof leads to from leaf `index` of a tree of `size`.
   * Sizes stay below 2^53, so halving is Math.floor(x / 2), never 32-bit shifts. */
  function rootFromInclusionProof(index, size, leaf, proof) {
    if (!(Number.isSafeInteger(index) && Number.isSafeInteger(size) && 0 <= index && index < size)) {
      return Promise.reject(new Error("leaf " + index + " is not in a tree of " + size));
    }
    var fn = index, sn = size - 1, i = 0;
    function half() {
      fn = Math.floor(fn / 2);
      sn = Math.floor(sn / 2);
    }
    function step(r) {
      if (i === proof.length) {
        if (sn !== 0) throw new Error("the proof is too short");
        return r;
      }
      if (sn === 0) throw new Error("the proof is too long");
      var p = proof[i++];
      var next;
      if (fn % 2 === 1 || fn === sn) {
        next = nodeHash(p, r);
        if (fn % 2 === 0) {
          while (fn % 2 === 0 && fn !== 0) half();
        }
      } else {
        next = nodeHash(r, p);
      }
      half();
      return next.then(step);
    }
    return Promise.resolve(leaf).then(step);
  }

  return {
    canonicalize: canonicalize,
    concat: concat,
    equalBytes: equalBytes,
    fromHex: fromHex,
    leafHash: leafHash,
    rootFromInclusionProof: rootFromInclusionProof,
    setForceFallback: function (value) {
      forceFallback = Boolean(value);
    },
    sha256: sha256,
    subtle: subtle,
    toHex: toHex,
    utf8: utf8,
  };
});
