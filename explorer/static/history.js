/* The donor's own history of giving, kept in this browser only.
 *
 * A receipt is a donation id and its secret (the `#s=` of the receipt link). The list of
 * the donor's receipts lives in this browser's localStorage and nowhere else: the server
 * keeps nothing new. The donation page offers to keep a receipt once the browser has
 * checked that the secret is the donation's (verify.js's `shanlian:receipt` event); the
 * "My donations" page (/my) shows every kept donation, fetched from its public page, and
 * moves the list to another device as a file or as links in QR codes (`/my#import=…`).
 *
 * Everything read from a file, a link or storage is checked against the exact shapes of
 * ids and secrets before it is kept, and shown with textContent only.
 */
(function (root, factory) {
  "use strict";
  var api = factory(root);
  if (typeof module === "object" && module.exports) {
    module.exports = api;
  } else {
    root.ShanlianHistory = api;
    if (typeof document !== "undefined") {
      if (document.readyState === "loading") {
        document.addEventListener("DOMContentLoaded", api.attach);
      } else {
        api.attach();
      }
    }
  }
})(typeof globalThis !== "undefined" ? globalThis : this, function (root) {
  "use strict";

  var STORAGE_KEY = "shanlian.receipts";
  var FILE_FORMAT = "shanlian-receipts";
  var VERSION = 1;
  var MAX_RECEIPTS = 1000; // far more than one donor gives; a file or link over it is refused
  var PER_CODE = 8; // receipts in one QR code's link: a code a phone camera reads at once
  var ID = /^dn_[A-Za-z0-9]{1,40}$/;
  var SECRET = /^[0-9a-f]{32}$/;
  var TRANSFER = /^1(~dn_[A-Za-z0-9]{1,40}\.[0-9a-f]{32})+$/;

  /* A problem with a list from elsewhere; `code` names it for the page's messages. */
  function ListError(code, values) {
    this.name = "ListError";
    this.code = code;
    this.values = values || {};
    this.message = code;
  }
  ListError.prototype = Object.create(Error.prototype);

  // -- the list ----------------------------------------------------------------------------

  /* Check `items` ([{id, secret, saved_at?}]) and return them as a clean list: every id
   * and secret of its exact shape, each donation once (the first kept). Throws ListError. */
  function clean(items) {
    if (!Array.isArray(items)) throw new ListError("not_a_list");
    if (items.length > MAX_RECEIPTS) throw new ListError("too_many", { max: MAX_RECEIPTS });
    var seen = {};
    var out = [];
    for (var i = 0; i < items.length; i++) {
      var item = items[i];
      var id = item && typeof item.id === "string" ? item.id : null;
      var secret = item && typeof item.secret === "string" ? item.secret.toLowerCase() : null;
      if (!id || !ID.test(id)) throw new ListError("bad_id", { n: i + 1 });
      if (!secret || !SECRET.test(secret)) throw new ListError("bad_secret", { n: i + 1 });
      if (Object.prototype.hasOwnProperty.call(seen, id)) continue;
      seen[id] = true;
      var saved = item.saved_at;
      out.push({
        id: id,
        secret: secret,
        saved_at: typeof saved === "string" && saved.length <= 40 ? saved : null,
      });
    }
    return out;
  }

  /* `more` added to `list`: (the merged list, how many were new). */
  function merge(list, more) {
    var have = {};
    list.forEach(function (item) {
      have[item.id] = true;
    });
    var added = more.filter(function (item) {
      return !Object.prototype.hasOwnProperty.call(have, item.id);
    });
    var merged = list.concat(added);
    if (merged.length > MAX_RECEIPTS) throw new ListError("too_many", { max: MAX_RECEIPTS });
    return { list: merged, added: added.length };
  }

  function without(list, id) {
    return list.filter(function (item) {
      return item.id !== id;
    });
  }

  function find(list, id) {
    for (var i = 0; i < list.length; i++) if (list[i].id === id) return list[i];
    return null;
  }

  // -- files and links ---------------------------------------------------------------------

  function toFile(list) {
    return JSON.stringify(
      { format: FILE_FORMAT, version: VERSION, receipts: list },
      null,
      1
    ) + "\n";
  }

  function fromFile(text) {
    var data;
    try {
      data = JSON.parse(text);
    } catch (error) {
      throw new ListError("not_json");
    }
    if (!data || data.format !== FILE_FORMAT) throw new ListError("not_ours");
    if (data.version !== VERSION) throw new ListError("bad_version", { version: data.version });
    return clean(data.receipts);
  }

  /* What the links that carry `list` hold after `#import=`: PER_CODE receipts each. */
  function transferPayloads(list) {
    var payloads = [];
    for (var i = 0; i < list.length; i += PER_CODE) {
      var part = list.slice(i, i + PER_CODE).map(function (item) {
        return item.id + "." + item.secret;
      });
      payloads.push("1~" + part.join("~"));
    }
    return payloads;
  }

  /* The receipts a `#import=…` fragment carries; null when it carries none. */
  function fromFragment(hash) {
    var text = String(hash || "").replace(/^#/, "");
    if (text.indexOf("import=") !== 0) return null;
    var payload = text.slice("import=".length);
    if (payload.length > 64 * MAX_RECEIPTS || !TRANSFER.test(payload)) {
      throw new ListError("bad_link");
    }
    return clean(
      payload
        .split("~")
        .slice(1)
        .map(function (part) {
          var dot = part.indexOf(".");
          return { id: part.slice(0, dot), secret: part.slice(dot + 1) };
        })
    );
  }

  // -- storage -----------------------------------------------------------------------------

  function storage() {
    try {
      return root.localStorage || null;
    } catch (error) {
      return null; // storage blocked (private mode, a policy): the page says so
    }
  }

  /* The kept list; a damaged store reads as empty (and is left for `save` to replace). */
  function load(store) {
    store = store || storage();
    if (!store) return [];
    try {
      var data = JSON.parse(store.getItem(STORAGE_KEY) || "null");
      return data && data.version === VERSION ? clean(data.receipts) : [];
    } catch (error) {
      return [];
    }
  }

  function save(list, store) {
    store = store || storage();
    if (!store) throw new ListError("no_storage");
    store.setItem(STORAGE_KEY, JSON.stringify({ version: VERSION, receipts: list }));
  }

  // -- formatting, as the explorer's pages format ------------------------------------------

  function format(template, values) {
    return String(template).replace(/\{(\w+)\}/g, function (all, name) {
      return values && name in values ? String(values[name]) : all;
    });
  }

  function groupThousands(digits) {
    return digits.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  }

  /* `amount` minor units of `currency` as the explorer shows it (¥123.45, 123.45 USD). */
  function money(amount, currency, config) {
    if (typeof amount !== "number" || !isFinite(amount) || Math.floor(amount) !== amount) {
      return String(amount) + " " + currency;
    }
    var digits = config.digits[currency];
    if (typeof digits !== "number") digits = 2;
    var text = String(Math.abs(amount));
    while (text.length <= digits) text = "0" + text;
    var major = digits ? text.slice(0, text.length - digits) : text;
    var number = groupThousands(major) + (digits ? "." + text.slice(text.length - digits) : "");
    var sign = amount < 0 ? "-" : "";
    var symbol = config.symbols[currency];
    return symbol ? sign + symbol + number : sign + number + " " + currency;
  }

  /* An RFC 3339 time in the page's zone (Beijing time in Chinese, UTC in English). */
  function when(text, config) {
    var moment = new Date(text);
    if (isNaN(moment.getTime())) return String(text);
    var shifted = new Date(moment.getTime() + config.offset_minutes * 60000);
    var iso = shifted.toISOString();
    return iso.slice(0, 10) + " " + iso.slice(11, 16) + " " + config.zone_name;
  }

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

  return {
    ListError: ListError,
    MAX_RECEIPTS: MAX_RECEIPTS,
    PER_CODE: PER_CODE,
    attach: attach,
    clean: clean,
    fromFile: fromFile,
    fromFragment: fromFragment,
    load: load,
    merge: merge,
    money: money,
    save: save,
    toFile: toFile,
    transferPayloads: transferPayloads,
    when: when,
    without: without,
  };
});
