/* The donor's own history of giving, kept in this browser only.
 *
 * A receipt is a donation id and its secret (the `#s=` of the receipt link). The list of
 * the donor's receipts lives in this browser's localStorage and nowhere else: the server
 * keeps nothing new. The donation page offers to keep a receipt once the browser has
 * checked that the secret is the donation's (verify-page.js's `shanlian:receipt` event); the
 * "My donations" page (/my) shows every kept donation, fetched from its public page, and
 * moves the list to another device as a file or as links in QR codes (`/my#import=…`).
 *
 * Everything read from a file, a link or storage is checked against the exact shapes of
 * ids and secrets before it is kept, and shown with textContent only.
 *
 * This file is the list itself (the tests run it under Node); history-page.js puts it on the pages.
 */
(function (root, factory) {
  "use strict";
  var api = factory(root);
  if (typeof module === "object" && module.exports) {
    module.exports = api;
  } else {
    root.ShanlianHistory = api;
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

  return {
    ListError: ListError,
    MAX_RECEIPTS: MAX_RECEIPTS,
    PER_CODE: PER_CODE,
    clean: clean,
    find: find,
    fromFile: fromFile,
    fromFragment: fromFragment,
    load: load,
    merge: merge,
    money: money,
    save: save,
    storage: storage,
    toFile: toFile,
    transferPayloads: transferPayloads,
    when: when,
    without: without,
  };
});
