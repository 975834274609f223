/* Inside the framed discussion (/embed/discussions/N): tells the embedding page how tall the
 * discussion is, so that it shows whole, and keeps paging inside the frame.  Messages go only
 * to the origins the node allows to embed (data-embed-origins), never to "*" unless the
 * operator allowed any site; embed.js on the host page accepts them only from the node. */
(function () {
  "use strict";
  var root = document.documentElement;
  var origins = (root.getAttribute("data-embed-origins") || "").split(" ").filter(Boolean);
  if (window.parent === window) return;

  function post(message) {
    message.fednode = 1;
    origins.forEach(function (origin) { window.parent.postMessage(message, origin); });
  }

  var last = 0;
  function size() {
    var height = Math.ceil(document.body.getBoundingClientRect().height);
    if (height !== last) { last = height; post({ height: height }); }
  }
  if (window.ResizeObserver) new ResizeObserver(size).observe(document.body);
  window.addEventListener("load", size);
  size();

  var theme = (root.className.match(/\btheme-(light|dark)\b/) || [])[1];
  var away = false;  // the reader opened a tab of the forum (to reply, to sign in)
  // Everything opens in a new tab (<base target="_blank">) except this frame's own pages:
  // another page of the discussion, "continue this thread", a comment's link.
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("a[href]");
    if (!link) return;
    var href = link.getAttribute("href");
    if (href.charAt(0) === "?") {
      link.target = "_self";
      if (theme) {  // the site's chosen colours follow the reader through the pages
        var next = new URL(link.href);
        next.searchParams.set("theme", theme);
        link.href = next.href;
      }
    } else if (href.charAt(0) !== "#") {
      away = true;
    } else {
      event.preventDefault();
      var target = document.getElementById(decodeURIComponent(href.slice(1)));
      if (!target) return;
      location.hash = href;  // marks it (:target) without leaving the page
      post({ scroll: Math.max(0, target.getBoundingClientRect().top + window.pageYOffset) });
    }
  });
  // Back from the forum's tab: show the thread as it is now (with the reader's new comment).
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible" && away) { away = false; location.reload(); }
  });
  // Arriving on a page of the frame with a comment's anchor (after "continue this thread").
  if (location.hash) {
    var anchored = document.getElementById(decodeURIComponent(location.hash.slice(1)));
    if (anchored) window.addEventListener("load", function () {
      post({ scroll: anchored.getBoundingClientRect().top + window.pageYOffset });
    });
  }
})();
