/* The donation page's verifier: checks a proof bundle (DESIGN §6) in the visitor's browser.
 *
 * 1. fetch the bundle; 2. the entry is this donation; 3. canonicalize the entry (RFC 8785:
 * for our entries, JSON.stringify with keys sorted by UTF-16 code units) and hash it,
 * SHA-256(0x00 ‖ bytes); 4. check the inclusion proof (RFC 9162 §2.1.3.2) against the
 * checkpoint; 5–6. ask the chain, with one eth_call of checkpointOf(root), that the
 * checkpoint is the one anchored (the contract keeps checkpoints under their root); 7. with the receipt secret of the URL fragment
 * (#s=<32 hex>, never sent anywhere), check the donor commitment.
 *
 * Nothing is taken on trust from the server but the bundle itself, which is checked.
 *
 * This file is the checks (the tests run it under Node); verify-page.js puts them on the page.
 */
(function (root, factory) {
  "use strict";
  var node = typeof module === "object" && module.exports;
  var sha = node ? require("./sha256.js") : root.ShanlianSha256;
  // Ed25519 where WebCrypto lacks it: @noble/ed25519, vendored (explorer/vendor/build).
  var ed = node ? require("./ed25519.js") : root.ShanlianEd25519;
  var api = factory(root, sha, ed);
  if (typeof module === "object" && module.exports) {
    module.exports = api;
  } else {
    root.ShanlianVerify = api;
  }
})(typeof globalThis !== "undefined" ? globalThis : this, function (root, sha, ed) {
  "use strict";

  var LEAF_PREFIX = 0x00; // RFC 6962 §2.1: leaf hashes are SHA-256(0x00 ‖ leaf)
  var NODE_PREFIX = 0x01; // and interior nodes SHA-256(0x01 ‖ left ‖ right)
  var forceFallback = false;
  var forceEd25519Fallback = false;

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

  // -- the chain ---------------------------------------------------------------------------

  function checkpointOfCall(selector, rootHash) {
    var word = String(rootHash).replace(/^0x/, "").toLowerCase();
    if (!/^[0-9a-f]{64}$/.test(word)) throw new Error("not a root hash: " + rootHash);
    return selector + word;
  }

  /* (uint256 index, uint64 treeSize, uint64 anchoredAt), ABI-encoded. */
  function decodeCheckpoint(result) {
    var hex = String(result).replace(/^0x/, "");
    if (hex.length < 192) throw new Error("unexpected eth_call result: " + result);
    function uint(word) {
      var value = BigInt("0x" + word);
      if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error("number too large: " + value);
      return Number(value);
    }
    return {
      index: uint(hex.slice(0, 64)),
      treeSize: uint(hex.slice(64, 128)),
      anchoredAt: uint(hex.slice(128, 192)),
    };
  }

  var rpcId = 0;
  // -- C2SP signed checkpoints (ADR 0031) --------------------------------------------------

  function fromBase64(text) {
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4) throw new Error("not base64");
    var raw = atob(text), out = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
    return out;
  }

  /* A C2SP verifier key, name+keyid+base64(0x01 ‖ Ed25519 public key): its parts, once the
   * key id is checked (SHA-256(name ‖ 0x0A ‖ 0x01 ‖ key)[:4]). With `type` 0x04: a
   * witness's cosignature/v1 key (c2sp.org/tlog-cosignature), the same but for that byte. */
  function parseVkey(vkey, type) {
    type = type || 0x01;
    var parts = String(vkey).split("+");
    if (parts.length < 3) return Promise.reject(new Error("a verifier key reads name+keyid+key"));
    var name = parts[0], id = parts[1], raw;
    try {
      raw = fromBase64(parts.slice(2).join("+"));
    } catch (error) {
      return Promise.reject(error);
    }
    if (raw.length !== 33 || raw[0] !== type) {
      return Promise.reject(new Error(type === 0x04 ? "not a cosignature/v1 key" : "not an Ed25519 key"));
    }
    return sha256(concat(utf8(name + "\n"), raw)).then(function (digest) {
      if (toHex(digest.subarray(0, 4)) !== "0x" + id.toLowerCase()) throw new Error("key id mismatch");
      return { name: name, keyId: digest.subarray(0, 4), publicKey: raw.subarray(1) };
    });
  }

  function notSupported() {
    var error = new Error("no Ed25519 in this browser");
    error.name = "NotSupportedError";
    return error;
  }

  /* Whether ``signature`` is the Ed25519 signature (RFC 8032) of ``message`` by ``publicKey``:
   * WebCrypto's where the browser has it (Chromium 137, Firefox 129, Safari 17), else the
   * vendored @noble/ed25519, which needs no crypto.subtle either (plain HTTP on a LAN).
   * Resolves true or false; rejects NotSupportedError when neither is there. */
  function verifyEd25519(publicKey, signature, message) {
    var webcrypto = subtle();
    function fallback() {
      if (!ed) throw notSupported();
      return ed.verifyEd25519(signature, message, publicKey);
    }
    if (!webcrypto || forceEd25519Fallback) return Promise.resolve().then(fallback);
    return webcrypto.importKey("raw", publicKey, { name: "Ed25519" }, false, ["verify"]).then(
      function (key) {
        return webcrypto.verify({ name: "Ed25519" }, key, signature, message);
      },
      fallback // the algorithm is unknown here (NotSupportedError, or a TypeError in some)
    );
  }

  /* A signed note's text (with its final newline) and signature lines, or null. */
  function noteParts(note) {
    note = String(note);
    var split = note.lastIndexOf("\n\n");
    if (split < 0 || note.charAt(note.length - 1) !== "\n") return null;
    return { text: note.slice(0, split + 1), lines: note.slice(split + 2, -1).split("\n") };
  }

  /* The raw signature (key id first) of the line by `key` (its name and key id), or null:
   * lines by other keys are ignored, as C2SP signed-note says. */
  function signatureBy(lines, key) {
    var found = null;
    lines.forEach(function (line) {
      var parts = line.split(" ");
      if (parts.length !== 3 || parts[0] !== "\u2014" || parts[1] !== key.name) return;
      var raw = fromBase64(parts[2]);
      if (equalBytes(raw.subarray(0, 4), key.keyId)) found = raw;
    });
    return found;
  }

  /* Open a checkpoint note with a verifier key (Ed25519: verifyEd25519): its origin, size and
   * root. Rejects a note with no signature by the key, or a bad one. */
  function openCheckpoint(note, vkey) {
    var parts = noteParts(note);
    if (!parts) return Promise.reject(new Error("not a signed note"));
    var text = parts.text;
    return parseVkey(vkey).then(function (key) {
      var raw = signatureBy(parts.lines, key);
      var signature = raw && raw.length === 68 ? raw.subarray(4) : null;
      if (!signature) throw new Error("no signature by " + key.name);
      return verifyEd25519(key.publicKey, signature, utf8(text)).then(function (valid) {
        if (!valid) throw new Error("the signature does not verify");
        var body = text.split("\n");
        if (body.length < 4 || body[0] !== key.name || !/^(0|[1-9][0-9]*)$/.test(body[1])) {
          throw new Error("not a checkpoint of " + key.name);
        }
        var rootHash = fromBase64(body[2]);
        if (rootHash.length !== 32) throw new Error("not a root hash");
        return { origin: body[0], size: Number(body[1]), rootHash: rootHash };
      });
    });
  }

  // -- witnesses' cosignatures (c2sp.org/tlog-cosignature, cosignature/v1; ADR 0035) ---------

  /* Check the cosignatures a checkpoint note carries by the given witnesses (each
   * `{name, vkey}`): an Ed25519 signature over "cosignature/v1\ntime <t>\n" and the note's
   * text, `t` the 8-byte big-endian time before it. Resolves to the names of the witnesses
   * whose cosignature verifies; rejects when one by a known key does not. Lines by keys not
   * given are ignored. */
  function openCosignatures(note, witnesses) {
    var parts = noteParts(note);
    if (!parts) return Promise.reject(new Error("not a signed note"));
    var text = parts.text;
    return Promise.all(
      (witnesses || []).map(function (witness) {
        return parseVkey(witness.vkey, 0x04).then(function (key) {
          var found = signatureBy(parts.lines, key);
          if (!found) return null;
          if (found.length !== 4 + 8 + 64) throw new Error(witness.name + ": not a cosignature/v1");
          var high = 0, low = 0, i;
          for (i = 4; i < 8; i++) high = high * 256 + found[i];
          for (i = 8; i < 12; i++) low = low * 256 + found[i];
          var time = high * 4294967296 + low;  // exact below 2^53: any real time
          if (time === 0 || high >= 2097152) throw new Error(witness.name + ": a cosignature without a time");
          var message = utf8("cosignature/v1\ntime " + String(time) + "\n" + text);
          return verifyEd25519(key.publicKey, found.subarray(12), message).then(function (valid) {
            if (!valid) throw new Error("the cosignature by " + witness.name + " does not verify");
            return witness.name;
          });
        });
      })
    ).then(function (names) {
      return names.filter(function (name) { return name !== null; });
    });
  }

  function rpc(url, method, params) {
    return fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: ++rpcId, method: method, params: params }),
      credentials: "omit",
      referrerPolicy: "no-referrer",
    })
      .then(function (response) {
        return response.json().then(
          function (answer) { return { status: response.status, ok: response.ok, answer: answer }; },
          function () { return { status: response.status, ok: response.ok, answer: null }; }
        );
      })
      .then(function (got) {
        var answer = got.answer;
        if (answer && answer.error) throw new Error(answer.error.message || JSON.stringify(answer.error));
        // A refusal (429 over the rate, 503 busy) is a problem document: it says why.
        if (!got.ok || !answer) throw new Error(answer && answer.detail ? answer.detail : "HTTP " + got.status);
        return answer.result;
      });
  }

  function commitment(secretHex, donationId) {
    return sha256(concat(fromHex(secretHex, 16), utf8(donationId)));
  }

  function receiptSecret(hash) {
    var params = new URLSearchParams(String(hash || "").replace(/^#/, ""));
    var secret = (params.get("s") || "").toLowerCase();
    return /^[0-9a-f]{32}$/.test(secret) ? secret : null;
  }

  /* What the link says about the receipt: "none" (no code), "valid" (a code of the right
   * shape, to be checked) or "damaged" (a code cut short or mangled). */
  function receiptState(hash) {
    var params = new URLSearchParams(String(hash || "").replace(/^#/, ""));
    if (!params.get("s")) return "none";
    return receiptSecret(hash) ? "valid" : "damaged";
  }

  // -- the whole check ---------------------------------------------------------------------

  function format(template, values) {
    return String(template).replace(/\{(\w+)\}/g, function (all, name) {
      return values && name in values ? String(values[name]) : all;
    });
  }

  /* Run every step; `report(step, state, text)` is told of each ("running", "pass", "fail",
   * "pending"). Resolves to "pass", "fail" or "pending" (not anchored yet): the verdict on
   * the proof. The receipt step (with `options.secret`) says whose donation it is, not
   * whether it is genuine: its outcome is reported, and does not change the verdict. */
  function verifyDonation(options, report) {
    var m = options.messages;
    var state = { failed: false };
    var bundle, cp, leaf;

    function fail(step, key, values) {
      state.failed = true;
      report(step, "fail", format(m[key], values));
    }
    function pass(step, key, values) {
      report(step, "pass", format(m[key], values));
    }

    report("bundle", "running", m.step_bundle);
    return fetch(options.proofUrl, { headers: { Accept: "application/json" }, credentials: "omit" })
      .then(function (response) {
        return response.json().then(function (body) {
          return { status: response.status, body: body };
        });
      })
      .then(function (answer) {
        if (answer.status === 409) {
          report("bundle", "pending", format(m.step_bundle_missing, { detail: answer.body.detail }));
          return "pending";
        }
        if (answer.status !== 200) {
          fail("bundle", "step_bundle_error", { detail: answer.body.detail || answer.status });
          return "fail";
        }
        bundle = answer.body;
        if (options.onBundle) options.onBundle(bundle);
        cp = bundle.checkpoint;
        pass("bundle", "step_bundle_ok", { seq: bundle.entry.seq, index: cp.index });
        return checkEntry().then(checkLeaf).then(checkInclusion).then(checkSignature)
          .then(function () { return chainView().then(checkCosignatures); })
          .then(checkChain)
          .then(checkFundUse)
          .then(checkReceipt)
          .then(function () {
            return state.failed ? "fail" : "pass";
          });
      })
      .catch(function (error) {
        fail("bundle", "step_bundle_error", { detail: error.message });
        return "fail";
      });

    function checkEntry() {
      report("entry", "running", m.step_entry);
      var entry = bundle.entry;
      var ok =
        entry && entry.kind === "donation.received" && entry.body &&
        entry.body.donation_id === options.donationId;
      if (ok) pass("entry", "step_entry");
      else fail("entry", "step_entry_bad");
      return Promise.resolve();
    }

    function checkLeaf() {
      report("leaf", "running", m.step_leaf);
      return leafHash(bundle.entry).then(function (digest) {
        leaf = digest;
        var hash = toHex(digest);
        if (hash === String(bundle.leaf_hash).toLowerCase()) pass("leaf", "step_leaf_ok", { hash: hash });
        else fail("leaf", "step_leaf_bad", { hash: hash, expected: bundle.leaf_hash });
      });
    }

    function checkInclusion() {
      report("inclusion", "running", m.step_inclusion);
      var proof;
      try {
        proof = bundle.inclusion_proof.map(function (h) {
          return fromHex(h, 32);
        });
      } catch (error) {
        fail("inclusion", "step_inclusion_bad", { detail: error.message });
        return Promise.resolve();
      }
      // The leaf hashed here, never the bundle's own leaf_hash; the seq from the hashed entry.
      return rootFromInclusionProof(bundle.entry.seq, cp.tree_size, leaf, proof)
        .then(function (root) {
          if (toHex(root) === String(cp.root_hash).toLowerCase()) {
            pass("inclusion", "step_inclusion_ok", { seq: bundle.entry.seq, size: cp.tree_size, root: cp.root_hash });
          } else {
            fail("inclusion", "step_inclusion_bad", { detail: toHex(root) + " ≠ " + cp.root_hash });
          }
        })
        .catch(function (error) {
          fail("inclusion", "step_inclusion_bad", { detail: error.message });
        });
    }

    /* The checkpoint as the log key signed it, checked with the published verifier key
     * (bundles made before the log had a key carry no note: no step then). */
    function checkSignature() {
      if (!bundle.checkpoint_note) return Promise.resolve();
      report("signature", "running", m.step_signature);
      return fetch(options.chainUrl, { headers: { Accept: "application/json" }, credentials: "omit" })
        .then(function (response) {
          return response.ok ? response.json() : {};
        })
        .then(function (chain) {
          if (!chain.log_vkey) {
            report("signature", "pending", m.step_signature_unchecked);
            return;
          }
          return openCheckpoint(bundle.checkpoint_note, chain.log_vkey).then(function (body) {
            if (body.size === cp.tree_size && toHex(body.rootHash) === String(cp.root_hash).toLowerCase()) {
              pass("signature", "step_signature_ok", { origin: body.origin, size: body.size });
            } else {
              fail("signature", "step_signature_bad", { detail: body.size + " / " + toHex(body.rootHash) });
            }
          });
        })
        .catch(function (error) {
          if (error && error.name === "NotSupportedError") {
            report("signature", "pending", m.step_signature_unchecked);  // no Ed25519 here
          } else {
            fail("signature", "step_signature_bad", { detail: error.message });
          }
        });
    }

    /* The witnesses' cosignatures on the bundle's checkpoint, checked with the keys
     * /chain publishes (no witnesses configured: no step). */
    function checkCosignatures(chain) {
      var witnesses = (chain && chain.witnesses) || [];
      if (!bundle.checkpoint_note || !witnesses.length) return Promise.resolve();
      report("cosignatures", "running", m.step_cosignatures);
      return openCosignatures(bundle.checkpoint_note, witnesses)
        .then(function (names) {
          if (!names.length) {
            report("cosignatures", "pending", format(m.step_cosignatures_none, { total: witnesses.length }));
          } else {
            pass("cosignatures", "step_cosignatures_ok", {
              count: names.length, total: witnesses.length, names: names.join(", "),
            });
          }
        })
        .catch(function (error) {
          if (error && error.name === "NotSupportedError") {
            report("cosignatures", "pending", m.step_signature_unchecked);
          } else {
            fail("cosignatures", "step_cosignatures_bad", { detail: error.message });
          }
        });
    }

    function chainView() {
      return fetch(options.chainUrl, { headers: { Accept: "application/json" }, credentials: "omit" })
        .then(function (response) { return response.ok ? response.json() : {}; })
        .catch(function () { return {}; });
    }

    function endpoint() {
      if (options.rpcUrl) return Promise.resolve({ rpcUrl: options.rpcUrl, contract: null });
      return fetch(options.chainUrl, { headers: { Accept: "application/json" }, credentials: "omit" })
        .then(function (response) {
          if (!response.ok) throw new Error(options.chainUrl + ": HTTP " + response.status);
          return response.json();
        })
        .then(function (chain) {
          return { rpcUrl: new URL(chain.rpc_url, root.location ? root.location.href : undefined).href, contract: chain.ledger_anchor };
        });
    }

    function checkChain() {
      report("chain", "running", m.step_chain);
      var anchor = bundle.anchor || {};
      return endpoint()
        .then(function (where) {
          return rpc(where.rpcUrl, "eth_chainId", []).then(function (chainId) {
            var actual = parseInt(chainId, 16);
            if (actual !== anchor.chain_id) {
              fail("chain", "step_chain_bad", { actual: actual, expected: anchor.chain_id });
              return;
            }
            pass("chain", "step_chain_ok", { chain_id: actual });
            return checkAnchor(where);
          });
        })
        .catch(function (error) {
          fail("chain", "rpc_error", { detail: error.message });
        });
    }

    function checkAnchor(where) {
      report("anchor", "running", m.step_anchor);
      var contract = String(bundle.anchor.contract).toLowerCase();
      if (where.contract && where.contract.toLowerCase() !== contract) {
        fail("anchor", "step_anchor_bad", { index: cp.index, detail: contract + " ≠ " + where.contract });
        return Promise.resolve();
      }
      var root = String(cp.root_hash).toLowerCase();
      var call;
      try {
        call = { to: contract, data: checkpointOfCall(options.selector, root) };
      } catch (error) {
        fail("anchor", "step_anchor_bad", { index: cp.index, detail: error.message });
        return Promise.resolve();
      }
      // The contract reverts (LedgerAnchorUnknownRoot) for a root it never anchored.
      return rpc(where.rpcUrl, "eth_call", [call, "latest"])
        .then(function (result) {
          var onChain = decodeCheckpoint(result);
          if (onChain.index === cp.index && onChain.treeSize === cp.tree_size) {
            pass("anchor", "step_anchor_ok", { contract: contract, index: cp.index, size: onChain.treeSize, root: root });
          } else {
            fail("anchor", "step_anchor_bad", {
              index: cp.index,
              detail: "#" + onChain.index + " / " + onChain.treeSize,
            });
          }
        })
        .catch(function (error) {
          fail("anchor", "step_anchor_bad", { index: cp.index, detail: error.message });
        });
    }

    /* ADR 0037: each disbursement the donation paid for is in the anchored tree, and its
     * signature is by the charity's key that the CharityRegistry holds on chain (its
     * CharityRegistered or CharitySignerChanged event, under the leaf hash of the journal
     * entry that set it). The typed data is built here from the entry itself. */
    function checkFundUse() {
      var fundUse = bundle.fund_use;
      var eip712 = root.ShanlianEip712;
      if (!fundUse || !fundUse.items || !fundUse.items.length || !eip712 || !options.signedTypes) {
        return Promise.resolve();
      }
      return endpoint().then(function (where) {
        return fetchRegistry().then(function (registry) {
          var chain = Promise.resolve();
          fundUse.items.forEach(function (item, i) {
            chain = chain.then(function () {
              return checkDisbursement(where, registry || fundUse.charity_registry, item, i);
            });
          });
          return chain;
        });
      }).catch(function (error) {
        fail("fund_use", "rpc_error", { detail: error.message });
      });
    }

    function fetchRegistry() {
      if (!options.chainUrl) return Promise.resolve(null);
      return fetch(options.chainUrl, { headers: { Accept: "application/json" }, credentials: "omit" })
        .then(function (response) { return response.ok ? response.json() : {}; })
        .then(function (chain) { return chain.charity_registry || null; }, function () { return null; });
    }

    function included(entry, proof) {
      return leafHash(entry).then(function (digest) {
        return rootFromInclusionProof(entry.seq, cp.tree_size, digest, proof.map(function (h) {
          return fromHex(h, 32);
        })).then(function (computed) {
          if (toHex(computed) !== String(cp.root_hash).toLowerCase()) throw new Error("entry #" + entry.seq + " is not in the anchored tree");
          return toHex(digest);
        });
      });
    }

    function messageOf(types, primary, body, charityId) {
      var message = {};
      types[primary].forEach(function (field) {
        var value = field.name === "charity_id" ? charityId : body[field.name];
        if (field.type === "string" && value === null) value = "";
        if (field.type === "address" && value === null) value = "0x0000000000000000000000000000000000000000";
        if (/\[\]$/.test(field.type)) {
          var inner = field.type.slice(0, -2);
          value = value.map(function (item) { return messageOf(types, inner, item, charityId); });
        }
        message[field.name] = value;
      });
      return message;
    }

    function checkDisbursement(where, registry, item, i) {
      var entry = item.entry || {};
      var body = entry.body || {};
      var step = "fund_use_" + i;
      var id = body.disbursement_id;
      report(step, "running", m.step_fund_use);
      return included(entry, item.inclusion_proof || []).then(function () {
        if (!entry.sig) {
          report(step, "pass", format(m.step_fund_use_unsigned, { id: id, seq: entry.seq }));
          return;
        }
        var signerEntry = item.signer_entry;
        if (!signerEntry || !signerEntry.body || signerEntry.body.charity_id !== body.charity_id || !(signerEntry.seq < entry.seq)) {
          throw new Error("the bundle names no signer of the charity before this entry");
        }
        var signer = String(signerEntry.body.signer).toLowerCase();
        return included(signerEntry, item.signer_proof || []).then(function (signerLeaf) {
          var spec = options.signedTypes;
          var typed = {
            types: spec.types,
            primaryType: spec.primaryType,
            domain: { name: "shanlian", version: "1", chainId: bundle.anchor.chain_id, verifyingContract: registry },
            message: messageOf(spec.types, spec.primaryType, body, body.charity_id),
          };
          var by = root.ShanlianEip712.recoverAddress(root.ShanlianEip712.typedDataDigest(typed), entry.sig);
          if (by !== signer) throw new Error("signed by " + by + ", not by the charity's key " + signer);
          return signerBlock(where, registry, body.charity_id, signer, signerLeaf).then(function (block) {
            if (block === null) throw new Error("the CharityRegistry holds no signer " + signer + " registered by entry #" + signerEntry.seq);
            pass(step, "step_fund_use_signed", { id: id, seq: entry.seq, signer: signer, block: block });
          });
        });
      }).catch(function (error) {
        fail(step, "step_fund_use_bad", { id: id, detail: error.message });
      });
    }

    /* The block of the registry's event that recorded `signer` for the charity under the
     * leaf hash `leaf`, or null; read in windows the node's eth_getLogs allows. */
    function signerBlock(where, registry, charityId, signer, leaf) {
      var e = root.ShanlianEip712;
      var topics = [
        e.toHex(e.keccak256(e.utf8("CharityRegistered(bytes32,address,bytes32)"))),
        e.toHex(e.keccak256(e.utf8("CharitySignerChanged(bytes32,address,address,bytes32)"))),
      ];
      var id = e.utf8(charityId);
      var padded = new Uint8Array(32);
      padded.set(id);
      var idTopic = e.toHex(padded);
      var signerTopic = "0x" + "0".repeat(24) + signer.slice(2);
      return rpc(where.rpcUrl, "eth_blockNumber", []).then(function (head) {
        var last = parseInt(head, 16);
        function window(from) {
          if (from > last) return Promise.resolve(null);
          var to = Math.min(last, from + 999);
          var filter = { address: registry, fromBlock: "0x" + from.toString(16), toBlock: "0x" + to.toString(16), topics: [topics, idTopic] };
          return rpc(where.rpcUrl, "eth_getLogs", [filter]).then(function (logs) {
            for (var k = 0; k < logs.length; k++) {
              var log = logs[k];
              var who = log.topics[0] === topics[0] ? log.topics[2] : log.topics[3];
              var hash = "0x" + String(log.data).slice(-64);
              if (String(who).toLowerCase() === signerTopic && hash.toLowerCase() === leaf) return parseInt(log.blockNumber, 16);
            }
            return window(to + 1);
          });
        }
        return window(0);
      });
    }

    function checkReceipt() {
      if (!options.secret) return Promise.resolve();
      report("receipt", "running", m.step_receipt);
      var body = bundle.entry.body || {};
      return commitment(options.secret, String(body.donation_id)).then(function (digest) {
        if (toHex(digest) === String(body.donor_commitment).toLowerCase()) pass("receipt", "step_receipt_ok");
        else report("receipt", "fail", m.step_receipt_bad);
      });
    }
  }

  return {
    canonicalize: canonicalize,
    checkpointOfCall: checkpointOfCall,
    commitment: commitment,
    decodeCheckpoint: decodeCheckpoint,
    fromHex: fromHex,
    leafHash: leafHash,
    openCheckpoint: openCheckpoint,
    openCosignatures: openCosignatures,
    receiptSecret: receiptSecret,
    receiptState: receiptState,
    rootFromInclusionProof: rootFromInclusionProof,
    rpc: rpc,
    setForceFallback: function (value) {
      forceFallback = Boolean(value);
    },
    setForceEd25519Fallback: function (value) {
      forceEd25519Fallback = Boolean(value);
    },
    sha256: sha256,
    subtle: subtle,
    verifyEd25519: verifyEd25519,
    toHex: toHex,
    utf8: utf8,
    verifyDonation: verifyDonation,
  };
});
