/* The donation page's "verify" section (verify.js holds the checks themselves): runs the
 * checks when asked, or by itself when a receipt link brought the donor, shows each step,
 * and once the receipt is proven the reader's, says so to history-page.js with a
 * `shanlian:receipt` event.
 */
(function (root) {
  "use strict";
  var v = root.ShanlianVerify;

  // -- the page ----------------------------------------------------------------------------

  function attach() {
    var section = document.getElementById("verify");
    if (!section) return;
    var messages = JSON.parse(document.getElementById("verify-messages").textContent);
    var button = document.getElementById("verify-button");
    var list = document.getElementById("verify-steps");
    var result = document.getElementById("verify-result");
    var rpcInput = document.getElementById("rpc-url");
    var notice = document.getElementById("receipt-notice");
    var receiptResult = document.getElementById("receipt-result");
    var secret = v.receiptSecret(root.location.hash);
    var linked = v.receiptState(root.location.hash);
    if (linked !== "none") {
      notice.textContent = messages.receipt_notice;
      notice.hidden = false;
    }
    var items = {};

    /* The second verdict, once the proof holds: is this donation the reader's? */
    function showReceipt(outcome) {
      var step = items.receipt && items.receipt.getAttribute("data-state");
      var verdict = null;
      if (outcome !== "pass") verdict = null;
      else if (linked === "damaged" || step === "fail") verdict = "damaged";
      else if (step === "pass") verdict = "mine";
      else if (linked === "none") verdict = "none";
      receiptResult.hidden = verdict === null;
      receiptResult.textContent = verdict ? messages["receipt_" + verdict] : "";
      if (verdict) receiptResult.setAttribute("data-state", verdict);
      else receiptResult.removeAttribute("data-state");
      // The donor's list (history.js) may keep a receipt proven theirs, and only such.
      if (verdict === "mine" && typeof root.CustomEvent === "function") {
        var detail = { donationId: section.getAttribute("data-donation-id"), secret: secret };
        root.dispatchEvent(new root.CustomEvent("shanlian:receipt", { detail: detail }));
      }
      if (verdict === "mine") showOfficialReceipt();
    }

    /* The official e-receipt (ADR 0041), for the donor only: asked for with the receipt
     * code once it is proven theirs, and shown beside the traceability receipt. */
    function showOfficialReceipt() {
      var box = document.getElementById("receipts");
      if (!box || typeof root.fetch !== "function") return;
      // The receipt code stays here: the server is sent a key derived from it
      // (api/official_receipts.py, reveal_key), which it derives from the code it keeps.
      var label = v.utf8("shanlian official receipt\n");
      var code = v.fromHex(secret, 16);
      var id = v.utf8(section.getAttribute("data-donation-id"));
      var input = new Uint8Array(label.length + code.length + id.length);
      input.set(label, 0);
      input.set(code, label.length);
      input.set(id, label.length + code.length);
      v.sha256(input)
        .then(function (key) {
          return root.fetch(box.getAttribute("data-reveal-url"), {
            method: "POST",
            headers: { "Content-Type": "application/json" },
            body: JSON.stringify({ reveal_key: v.toHex(key).slice(2) }),
            cache: "no-store",
            credentials: "omit",
          });
        })
        .then(function (response) {
          if (response.status === 404) return null;
          if (!response.ok) throw new Error("HTTP " + response.status);
          return response.json();
        })
        .then(function (found) {
          if (found) {
            document.getElementById("official-code").textContent = found.code;
            document.getElementById("official-number").textContent = found.number;
            document.getElementById("official-check-code").textContent = found.check_code;
            document.getElementById("official-facts").hidden = false;
            document.getElementById("official-corrected").hidden = !found.corrected;
          } else {
            document.getElementById("official-none").hidden = false;
          }
          box.hidden = false;
        })
        .catch(function () {
          // Not shown: the traceability receipt stands on its own.
        });
    }

    function report(step, state, text) {
      var item = items[step];
      if (!item) {
        item = items[step] = document.createElement("li");
        item.setAttribute("data-step", step);
        list.appendChild(item);
      }
      item.setAttribute("data-state", state);
      item.textContent = text;
    }

    function run() {
      list.textContent = "";
      items = {};
      result.textContent = messages.running;
      result.removeAttribute("data-state");
      showReceipt(null);
      button.disabled = true;
      if (!v.subtle()) report("crypto", "pending", messages.crypto_fallback);
      v.verifyDonation(
        {
          donationId: section.getAttribute("data-donation-id"),
          proofUrl: section.getAttribute("data-proof-url"),
          chainUrl: section.getAttribute("data-chain-url"),
          selector: section.getAttribute("data-selector"),
          rpcUrl: rpcInput.value.trim() || null,
          secret: secret,
          messages: messages,
          signedTypes: JSON.parse(document.getElementById("verify-signed-types").textContent),
        },
        report
      ).then(function (outcome) {
        result.setAttribute("data-state", outcome);
        result.textContent = outcome === "pass" ? messages.all_ok : outcome === "fail" ? messages.failed : "";
        showReceipt(outcome);
        button.disabled = false;
      });
    }

    button.addEventListener("click", run);
    button.disabled = false;
    // A donor who opened their receipt came to check it: the check starts by itself.
    if (linked !== "none") run();
  }

  // The pages load this script at the end of their body, before the document is loaded.
  document.addEventListener("DOMContentLoaded", attach);
})(globalThis);
