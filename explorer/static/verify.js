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
 * This file is the checks in order (the tests run it under Node), on proof.js's hashing and
 * inclusion proofs and signed-note.js's signatures; verify-page.js puts them on the page.
 */
(function (root, factory) {
  "use strict";
  if (typeof module === "object" && module.exports) {
    module.exports = factory(
      root, require("./proof.js"), require("./signed-note.js"), require("./messages.js")
    );
  } else {
    root.ShanlianVerify = factory(
      root, root.ShanlianProof, root.ShanlianSignedNote, root.ShanlianMessages
    );
  }
})(typeof globalThis !== "undefined" ? globalThis : this, function (root, proof, note, messages) {
  "use strict";

  var fromHex = proof.fromHex, leafHash = proof.leafHash, sha256 = proof.sha256;
  var rootFromInclusionProof = proof.rootFromInclusionProof, toHex = proof.toHex, utf8 = proof.utf8;
  var concat = proof.concat, openCheckpoint = note.openCheckpoint, openCosignatures = note.openCosignatures;
  var format = messages.format;

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

  /* The whole verifier in one place, its parts from proof.js and signed-note.js with it: what
   * verify-page.js and the tests use. */
  return {
    canonicalize: proof.canonicalize,
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
    setForceFallback: proof.setForceFallback,
    setForceEd25519Fallback: note.setForceEd25519Fallback,
    sha256: sha256,
    subtle: proof.subtle,
    verifyEd25519: note.verifyEd25519,
    toHex: toHex,
    utf8: utf8,
    verifyDonation: verifyDonation,
  };
});
