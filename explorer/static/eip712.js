/* EIP-712 in the reader's browser (ADR 0037): keccak-256, secp256k1 public-key recovery
 * and typed-data hashing, in plain JavaScript with BigInt, so that the donation page can
 * check by itself that the charity's key signed its disbursements.
 *
 * Small and slow on purpose (a few signatures a page): every step is the textbook one.
 * Keccak-256 as Ethereum uses it (the original padding 0x01, not SHA-3's 0x06); recovery
 * as SEC 1 §4.1.6 for r < n; typed data as EIP-712 (encodeType, encodeData, hashStruct).
 * Tested against eth-account and ethers (tests/explorer/test_eip712_js.py).
 */
(function (root, factory) {
  if (typeof module === "object" && module.exports) module.exports = factory();
  else root.ShanlianEip712 = factory();
})(typeof globalThis !== "undefined" ? globalThis : this, function () {
  "use strict";

  // -- keccak-256 ------------------------------------------------------------------------

  var MASK = (1n << 64n) - 1n;
  var RC = [
    0x0000000000000001n, 0x0000000000008082n, 0x800000000000808an, 0x8000000080008000n,
    0x000000000000808bn, 0x0000000080000001n, 0x8000000080008081n, 0x8000000000008009n,
    0x000000000000008an, 0x0000000000000088n, 0x0000000080008009n, 0x000000008000000an,
    0x000000008000808bn, 0x800000000000008bn, 0x8000000000008089n, 0x8000000000008003n,
    0x8000000000008002n, 0x8000000000000080n, 0x000000000000800an, 0x800000008000000an,
    0x8000000080008081n, 0x8000000000008080n, 0x0000000080000001n, 0x8000000080008008n,
  ];
  // Rotation offsets r[x][y] of Keccak's rho step.
  var ROT = [
    [0, 36, 3, 41, 18],
    [1, 44, 10, 45, 2],
    [62, 6, 43, 15, 61],
    [28, 55, 25, 21, 56],
    [27, 20, 39, 8, 14],
  ];
  var RATE = 136; // bytes: 1600 bits less twice the 256-bit output

  function rotl(value, shift) {
    if (shift === 0) return value;
    var n = BigInt(shift);
    return ((value << n) | (value >> (64n - n))) & MASK;
  }

  function permute(a) {
    var c = new Array(5), d = new Array(5), b = new Array(25);
    for (var round = 0; round < 24; round++) {
      var x, y;
      for (x = 0; x < 5; x++) c[x] = a[x] ^ a[x + 5] ^ a[x + 10] ^ a[x + 15] ^ a[x + 20];
      for (x = 0; x < 5; x++) d[x] = c[(x + 4) % 5] ^ rotl(c[(x + 1) % 5], 1);
      for (x = 0; x < 5; x++) for (y = 0; y < 5; y++) a[x + 5 * y] ^= d[x];
      for (x = 0; x < 5; x++) {
        for (y = 0; y < 5; y++) b[y + 5 * ((2 * x + 3 * y) % 5)] = rotl(a[x + 5 * y], ROT[x][y]);
      }
      for (x = 0; x < 5; x++) {
        for (y = 0; y < 5; y++) {
          a[x + 5 * y] = b[x + 5 * y] ^ (~b[((x + 1) % 5) + 5 * y] & MASK & b[((x + 2) % 5) + 5 * y]);
        }
      }
      a[0] ^= RC[round];
    }
  }

  function keccak256(bytes) {
    var padded = new Uint8Array((Math.floor(bytes.length / RATE) + 1) * RATE);
    padded.set(bytes);
    padded[bytes.length] ^= 0x01;
    padded[padded.length - 1] ^= 0x80;
    var state = new Array(25).fill(0n);
    for (var offset = 0; offset < padded.length; offset += RATE) {
      for (var i = 0; i < RATE / 8; i++) {
        var lane = 0n;
        for (var k = 7; k >= 0; k--) lane = (lane << 8n) | BigInt(padded[offset + 8 * i + k]);
        state[i] ^= lane;
      }
      permute(state);
    }
    var out = new Uint8Array(32);
    for (var j = 0; j < 4; j++) {
      var value = state[j];
      for (var m = 0; m < 8; m++) {
        out[8 * j + m] = Number(value & 0xffn);
        value >>= 8n;
      }
    }
    return out;
  }

  // -- bytes and numbers -------------------------------------------------------------------

  function utf8(text) {
    return new TextEncoder().encode(text);
  }

  function concat(parts) {
    var size = parts.reduce(function (sum, part) { return sum + part.length; }, 0);
    var out = new Uint8Array(size);
    var at = 0;
    parts.forEach(function (part) {
      out.set(part, at);
      at += part.length;
    });
    return out;
  }

  function fromHex(text) {
    var hex = String(text).replace(/^0x/i, "");
    if (hex.length % 2 || /[^0-9a-f]/i.test(hex)) throw new Error("not hex: " + text);
    var out = new Uint8Array(hex.length / 2);
    for (var i = 0; i < out.length; i++) out[i] = parseInt(hex.substr(2 * i, 2), 16);
    return out;
  }

  function toHex(bytes) {
    return "0x" + Array.prototype.map.call(bytes, function (b) {
      return (b < 16 ? "0" : "") + b.toString(16);
    }).join("");
  }

  function toBigInt(bytes) {
    return bytes.length ? BigInt(toHex(bytes)) : 0n;
  }

  function word(value) {
    var out = new Uint8Array(32);
    var v = BigInt(value);
    for (var i = 31; i >= 0; i--) {
      out[i] = Number(v & 0xffn);
      v >>= 8n;
    }
    return out;
  }

  // -- secp256k1 ---------------------------------------------------------------------------

  var P = (1n << 256n) - (1n << 32n) - 977n;
  var N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
  var G = [
    0x79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798n,
    0x483ada7726a3c4655da4fbfc0e1108a8fd17b448a68554199c47d08ffb10d4b8n,
  ];

  function mod(a, m) {
    var r = a % m;
    return r < 0n ? r + m : r;
  }

  function inverse(a, m) {
    var t = 0n, newT = 1n, r = m, newR = mod(a, m);
    while (newR !== 0n) {
      var q = r / newR;
      var tmp = t - q * newT;
      t = newT;
      newT = tmp;
      tmp = r - q * newR;
      r = newR;
      newR = tmp;
    }
    if (r !== 1n) throw new Error("not invertible");
    return mod(t, m);
  }

  function power(base, exponent, m) {
    var result = 1n, b = mod(base, m), e = exponent;
    while (e > 0n) {
      if (e & 1n) result = (result * b) % m;
      b = (b * b) % m;
      e >>= 1n;
    }
    return result;
  }

  function add(p1, p2) {
    if (p1 === null) return p2;
    if (p2 === null) return p1;
    var lambda;
    if (p1[0] === p2[0]) {
      if (mod(p1[1] + p2[1], P) === 0n) return null;
      lambda = mod(3n * p1[0] * p1[0] * inverse(2n * p1[1], P), P);
    } else {
      lambda = mod((p2[1] - p1[1]) * inverse(p2[0] - p1[0], P), P);
    }
    var x = mod(lambda * lambda - p1[0] - p2[0], P);
    return [x, mod(lambda * (p1[0] - x) - p1[1], P)];
  }

  function multiply(point, scalar) {
    var result = null, addend = point, k = mod(scalar, N);
    while (k > 0n) {
      if (k & 1n) result = add(result, addend);
      addend = add(addend, addend);
      k >>= 1n;
    }
    return result;
  }

  /* The address (0x, lowercase) whose key made the 65-byte `signature` over `digest`. */
  function recoverAddress(digest, signature) {
    var raw = fromHex(signature);
    if (raw.length !== 65) throw new Error("a signature is 65 bytes");
    var r = toBigInt(raw.slice(0, 32));
    var s = toBigInt(raw.slice(32, 64));
    var v = raw[64] >= 27 ? raw[64] - 27 : raw[64];
    if (v > 1 || r === 0n || r >= N || s === 0n || s >= N) throw new Error("not a signature");
    var ySquared = mod(r * r * r + 7n, P);
    var y = power(ySquared, (P + 1n) / 4n, P);
    if (mod(y * y, P) !== ySquared) throw new Error("r is not on the curve");
    if (Number(y & 1n) !== v) y = P - y;
    var z = toBigInt(digest);
    var rInverse = inverse(r, N);
    var q = add(multiply([r, y], mod(s * rInverse, N)), multiply(G, mod(-z * rInverse, N)));
    if (q === null) throw new Error("no public key");
    var hash = keccak256(concat([word(q[0]), word(q[1])]));
    return toHex(hash.slice(12));
  }

  // -- EIP-712 -----------------------------------------------------------------------------

  function dependencies(primary, types, found) {
    found = found || [];
    if (found.indexOf(primary) >= 0 || !types[primary]) return found;
    found.push(primary);
    types[primary].forEach(function (field) {
      dependencies(field.type.replace(/\[\]$/, ""), types, found);
    });
    return found;
  }

  function encodeType(primary, types) {
    var deps = dependencies(primary, types).filter(function (t) { return t !== primary; }).sort();
    return [primary].concat(deps).map(function (name) {
      return name + "(" + types[name].map(function (f) { return f.type + " " + f.name; }).join(",") + ")";
    }).join("");
  }

  function encodeValue(type, value, types) {
    if (types[type]) return hashStruct(type, value, types);
    if (/\[\]$/.test(type)) {
      var inner = type.slice(0, -2);
      return keccak256(concat(value.map(function (item) { return encodeValue(inner, item, types); })));
    }
    if (type === "string") return keccak256(utf8(value));
    if (type === "bytes") return keccak256(fromHex(value));
    if (type === "bytes32") return fromHex(value);
    if (type === "bool") return word(value ? 1 : 0);
    if (type === "address") return word(BigInt(value));
    if (/^uint\d+$/.test(type)) return word(value);
    throw new Error("unsupported EIP-712 type " + type);
  }

  function hashStruct(primary, data, types) {
    var parts = [keccak256(utf8(encodeType(primary, types)))];
    types[primary].forEach(function (field) {
      parts.push(encodeValue(field.type, data[field.name], types));
    });
    return keccak256(concat(parts));
  }

  /* The digest a wallet signs for typed data ({types, primaryType, domain, message}). */
  function typedDataDigest(typed) {
    return keccak256(concat([
      new Uint8Array([0x19, 0x01]),
      hashStruct("EIP712Domain", typed.domain, typed.types),
      hashStruct(typed.primaryType, typed.message, typed.types),
    ]));
  }

  return {
    keccak256: keccak256,
    recoverAddress: recoverAddress,
    typedDataDigest: typedDataDigest,
    encodeType: encodeType,
    fromHex: fromHex,
    toHex: toHex,
    utf8: utf8,
  };
});
