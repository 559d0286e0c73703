/* The donor's list on the pages (history.js holds the list itself): the donation page's
 * "keep this receipt" (once verify-page.js proved the receipt the reader's) and the
 * "My donations" page (/my), with its file and QR-code transfers.
 *
 * Everything is shown with textContent only.
 */
(function (root) {
  "use strict";
  var format = root.ShanlianMessages.format;
  var h = root.ShanlianHistory;
  var ListError = h.ListError;
  var PER_CODE = h.PER_CODE;
  var clean = h.clean;
  var find = h.find;
  var fromFile = h.fromFile;
  var fromFragment = h.fromFragment;
  var load = h.load;
  var merge = h.merge;
  var money = h.money;
  var save = h.save;
  var storage = h.storage;
  var toFile = h.toFile;
  var transferPayloads = h.transferPayloads;
  var when = h.when;
  var without = h.without;

  // -- the pages ---------------------------------------------------------------------------

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  /* The donation page: once the receipt is proven the reader's, offer to keep it. */
  function attachKeep(keep) {
    var messages = JSON.parse(document.getElementById("history-messages").textContent);
    var button = document.getElementById("keep-button");
    var state = document.getElementById("keep-state");
    var current = null;

    function show(saved) {
      button.hidden = saved;
      state.textContent = saved ? messages.kept : messages.keep_offer;
    }

    root.addEventListener("shanlian:receipt", function (event) {
      current = { id: event.detail.donationId, secret: event.detail.secret };
      if (!storage()) {
        state.textContent = messages.no_storage;
        button.hidden = true;
      } else {
        show(find(load(), current.id) !== null);
      }
      keep.hidden = false;
    });

    button.addEventListener("click", function () {
      if (!current) return;
      try {
        var list = load();
        if (!find(list, current.id)) {
          save(
            merge(list, clean([{ id: current.id, secret: current.secret, saved_at: new Date().toISOString() }])).list
          );
        }
        show(true);
      } catch (error) {
        state.textContent = error instanceof ListError ? format(messages["error_" + error.code], error.values) : String(error);
      }
    });
  }

  /* The "My donations" page. */
  function attachHistory(section) {
    var config = JSON.parse(document.getElementById("history-config").textContent);
    var m = config.messages;
    var listNode = document.getElementById("history-list");
    var totalsNode = document.getElementById("history-totals");
    var statusNode = document.getElementById("history-status");
    var noticeNode = document.getElementById("history-notice");
    var offer = document.getElementById("import-offer");
    var codes = document.getElementById("transfer-codes");

    function say(text, state) {
      statusNode.textContent = text;
      if (state) statusNode.setAttribute("data-state", state);
      else statusNode.removeAttribute("data-state");
    }

    /* The outcome of the donor's last action (a link, a file, the codes): kept until the next. */
    function tell(text, state) {
      noticeNode.textContent = text;
      noticeNode.hidden = !text;
      noticeNode.setAttribute("data-state", state);
    }

    function problem(error) {
      return error instanceof ListError && m["error_" + error.code]
        ? format(m["error_" + error.code], error.values)
        : String(error && error.message ? error.message : error);
    }

    if (!storage()) {
      tell(m.no_storage, "fail");
      section.querySelectorAll("button, input").forEach(function (control) {
        control.disabled = true;
      });
      return;
    }

    function fetchDonation(item) {
      return fetch(config.donation_json.replace("{id}", encodeURIComponent(item.id)), {
        headers: { Accept: "application/json" },
        credentials: "omit",
      }).then(function (response) {
        if (response.status === 404) return { missing: true };
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json().then(function (body) {
          return { donation: body.donation };
        });
      });
    }

    function card(item, got) {
      var li = element("li", "history-item");
      li.setAttribute("data-donation-id", item.id);
      var link = element("a", "big");
      link.href = config.donation_page.replace("{id}", encodeURIComponent(item.id)) + "#s=" + item.secret;
      if (!got || got.missing || got.failed) {
        link.textContent = item.id;
        li.appendChild(link);
        li.appendChild(element("span", "meta", got && got.missing ? m.missing : m.unreachable));
        li.setAttribute("data-state", got && got.missing ? "missing" : "unreachable");
      } else {
        var d = got.donation;
        link.textContent = money(d.amount, d.currency, config);
        li.appendChild(link);
        li.appendChild(
          element("span", null, d.charity_name + (d.project_title ? " › " + d.project_title : " › " + m.general_fund))
        );
        li.appendChild(element("span", "meta", m.paid + " " + when(d.paid_at, config)));
        var figures = element("dl", "facts");
        [
          [m.spent, d.allocated],
          [m.unspent, d.unspent],
          [m.refunded, d.refunded],
        ].forEach(function (row) {
          figures.appendChild(element("dt", null, row[0]));
          figures.appendChild(element("dd", null, money(row[1], d.currency, config)));
        });
        li.appendChild(figures);
        if (d.funded && d.funded.length) {
          var went = element("ul", "went");
          d.funded.forEach(function (f) {
            went.appendChild(
              element(
                "li",
                null,
                format(m.funded, {
                  amount: money(f.amount, d.currency, config),
                  payee: f.disbursement.payee,
                  purpose: f.disbursement.purpose,
                })
              )
            );
          });
          li.appendChild(went);
        }
        li.setAttribute("data-state", "shown");
      }
      var forget = element("button", "link-button", m.forget_one);
      forget.type = "button";
      forget.addEventListener("click", function () {
        save(without(load(), item.id));
        render();
      });
      li.appendChild(forget);
      return li;
    }

    function showTotals(shown) {
      totalsNode.textContent = "";
      var sums = {};
      var order = [];
      shown.forEach(function (d) {
        if (!sums[d.currency]) {
          sums[d.currency] = { given: 0, spent: 0, unspent: 0, refunded: 0 };
          order.push(d.currency);
        }
        var s = sums[d.currency];
        s.given += d.amount;
        s.spent += d.allocated;
        s.unspent += d.unspent;
        s.refunded += d.refunded;
      });
      order.forEach(function (currency) {
        var s = sums[currency];
        var dl = element("dl", "facts totals");
        dl.setAttribute("data-currency", currency);
        [
          [m.given, s.given],
          [m.spent, s.spent],
          [m.unspent, s.unspent],
          [m.refunded, s.refunded],
        ].forEach(function (row) {
          dl.appendChild(element("dt", null, row[0]));
          dl.appendChild(element("dd", null, money(row[1], currency, config)));
        });
        totalsNode.appendChild(dl);
      });
    }

    var generation = 0;
    function render() {
      var list = load();
      var mine = ++generation;
      listNode.textContent = "";
      totalsNode.textContent = "";
      codes.textContent = "";
      codes.hidden = true;
      document.getElementById("history-empty").hidden = list.length > 0;
      document.getElementById("history-move").hidden = !list.length;
      document.getElementById("history-forget").hidden = !list.length;
      if (!list.length) {
        say("");
        return Promise.resolve();
      }
      say(format(m.loading, { count: list.length }), "running");
      var nodes = list.map(function (item) {
        var li = element("li", "history-item", item.id);
        li.setAttribute("data-state", "loading");
        listNode.appendChild(li);
        return li;
      });
      var shown = [];
      var next = 0;
      function worker() {
        if (next >= list.length || mine !== generation) return Promise.resolve();
        var index = next++;
        var item = list[index];
        return fetchDonation(item)
          .catch(function () {
            return { failed: true };
          })
          .then(function (got) {
            if (mine !== generation) return;
            if (got.donation) shown.push(got.donation);
            listNode.replaceChild(card(item, got), nodes[index]);
            nodes[index] = listNode.children[index];
          })
          .then(worker);
      }
      return Promise.all([worker(), worker(), worker(), worker()]).then(function () {
        if (mine !== generation) return;
        showTotals(shown);
        say(format(m.shown, { count: list.length }), "done");
      });
    }

    function offerImport(items) {
      var fresh = merge(load(), items).added;
      document.getElementById("import-text").textContent = format(m.import_offer, {
        count: items.length,
        fresh: fresh,
      });
      offer.hidden = false;
      document.getElementById("import-accept").onclick = function () {
        try {
          var result = merge(load(), items);
          save(result.list);
          tell(format(m.imported, { count: result.added }), "pass");
        } catch (error) {
          tell(problem(error), "fail");
        }
        offer.hidden = true;
        render();
      };
      document.getElementById("import-decline").onclick = function () {
        offer.hidden = true;
      };
    }

    // A link from another device: offered, never taken silently; the fragment is dropped.
    try {
      var carried = fromFragment(root.location.hash);
      if (carried) {
        root.history.replaceState(null, "", root.location.pathname + root.location.search);
        offerImport(carried);
      }
    } catch (error) {
      root.history.replaceState(null, "", root.location.pathname + root.location.search);
      tell(problem(error), "fail");
    }

    document.getElementById("export-file").addEventListener("click", function () {
      var blob = new Blob([toFile(load())], { type: "application/json" });
      var link = document.createElement("a");
      link.href = URL.createObjectURL(blob);
      link.download = "shanlian-donations.json";
      document.body.appendChild(link);
      link.click();
      link.remove();
      setTimeout(function () {
        URL.revokeObjectURL(link.href);
      }, 10000);
    });

    document.getElementById("import-file").addEventListener("change", function (event) {
      var file = event.target.files && event.target.files[0];
      event.target.value = "";
      if (!file) return;
      if (file.size > 256 * 1024) {
        tell(m.error_too_big, "fail");
        return;
      }
      file.text().then(function (text) {
        try {
          offerImport(fromFile(text));
        } catch (error) {
          tell(problem(error), "fail");
        }
      });
    });

    /* The SVG of one link's QR code, drawn by the server (retried when it is busy). */
    function drawCode(payload, attempts) {
      return fetch(config.qr_url, {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "image/svg+xml" },
        credentials: "omit",
        body: JSON.stringify({ "import": payload }),
      }).then(function (response) {
        if (response.ok) return response.text();
        var wait = Number(response.headers.get("Retry-After"));
        if ((response.status === 503 || response.status === 429) && attempts > 1 && wait <= 5) {
          return new Promise(function (resolve) {
            setTimeout(resolve, Math.max(1, wait) * 1000);
          }).then(function () {
            return drawCode(payload, attempts - 1);
          });
        }
        return response.json().then(function (body) {
          throw new Error(body.detail || "HTTP " + response.status);
        });
      });
    }

    document.getElementById("show-codes").addEventListener("click", function () {
      var list = load();
      var links = transferPayloads(list);
      if (links.length > config.max_codes) {
        tell(format(m.too_many_codes, { max: config.max_codes * PER_CODE }), "fail");
        return;
      }
      codes.textContent = "";
      codes.hidden = false;
      codes.appendChild(element("p", "note", format(m.codes_intro, { count: links.length })));
      var chain = Promise.resolve();
      links.forEach(function (link, index) {
        var figure = element("figure", "transfer-code");
        var caption = element("figcaption", null, format(m.code_n, { n: index + 1, count: links.length }));
        figure.appendChild(caption);
        codes.appendChild(figure);
        chain = chain.then(function () {
          return drawCode(link, 3).then(function (svg) {
            var image = element("img");
            image.alt = format(m.code_n, { n: index + 1, count: links.length });
            image.src = "data:image/svg+xml;base64," + btoa(svg);
            figure.insertBefore(image, caption);
          });
        });
      });
      chain.catch(function (error) {
        tell(problem(error), "fail");
      });
    });

    document.getElementById("forget-all").addEventListener("click", function () {
      if (root.confirm(m.forget_all_confirm)) {
        save([]);
        render();
      }
    });

    render();
  }

  function attach() {
    var keep = document.getElementById("keep");
    if (keep) attachKeep(keep);
    var section = document.getElementById("history");
    if (section) attachHistory(section);
  }

  // The pages load this script at the end of their body, before the document is loaded.
  document.addEventListener("DOMContentLoaded", attach);
})(globalThis);
