/* Fednode comment counts for index pages: fills every element marked data-fednode-count
 * with the number of comments of the page it links to (its href, or its data-url).
 *   <a href="https://blog.example/post" data-fednode-count>comments</a>
 *   <script src="https://NODE/count.js" async></script>
 * data-fednode-count="{n} replies" sets the wording ({n} is the number).  One request
 * (GET NODE/api/v1/counts) for up to 50 pages, no cookies; the host page's CSP needs
 * script-src NODE and connect-src NODE.  See docs/embedding.md. */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || !script.src) return;
  var node = new URL(script.src).origin;
  var BATCH = 50;

  function wording(element, count) {
    var pattern = element.getAttribute("data-fednode-count");
    if (pattern && pattern.indexOf("{n}") >= 0) return pattern.split("{n}").join(String(count));
    return count + (count === 1 ? " comment" : " comments");
  }

  function fill() {
    var elements = Array.prototype.slice.call(document.querySelectorAll("[data-fednode-count]"));
    var byUrl = {};
    elements.forEach(function (element) {
      var given = element.getAttribute("data-url") || element.getAttribute("href");
      if (!given) return;
      var url = new URL(given, location.href).href.split("#")[0];
      if (!/^https?:/.test(url)) return;  // a mailto: or javascript: link has no discussion
      (byUrl[url] = byUrl[url] || []).push(element);
    });
    var urls = Object.keys(byUrl);
    for (var start = 0; start < urls.length; start += BATCH) {
      var batch = urls.slice(start, start + BATCH);
      var query = batch.map(function (url) { return "url=" + encodeURIComponent(url); }).join("&");
      fetch(node + "/api/v1/counts?" + query, { credentials: "omit" })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (data) {
          if (!data || !data.counts) return;
          Object.keys(data.counts).forEach(function (url) {
            var count = data.counts[url];
            if (typeof count !== "number") return;
            (byUrl[url] || []).forEach(function (element) { element.textContent = wording(element, count); });
          });
        })
        .catch(function () { /* the links keep their own text */ });
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", fill);
  else fill();
})();
