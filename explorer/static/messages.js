/* The pages' messages: the catalog's text a template puts in the page as JSON, with `{name}`
 * placeholders that the scripts fill (verify.js's steps, history-page.js's list). A value
 * missing leaves its placeholder as it is. No dependencies: the tests run it under Node.
 */
(function (root, factory) {
  if (typeof module === "object" && module.exports) module.exports = factory();
  else root.ShanlianMessages = factory();
})(typeof globalThis !== "undefined" ? globalThis : this, function () {
  "use strict";

  /* `template` with each `{name}` replaced by `values[name]`, as text. */
  function format(template, values) {
    return String(template).replace(/\{(\w+)\}/g, function (all, name) {
      return values && name in values ? String(values[name]) : all;
    });
  }

  return { format: format };
});
