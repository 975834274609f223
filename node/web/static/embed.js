/* Fednode embed: the discussion of this page, in a frame from the node that serves this script.
 *   <script src="https://NODE/embed.js" data-url="https://blog.example/post" async></script>
 * data-url     the page whose discussion to show (default: <link rel=canonical>, else this address)
 * data-target  a CSS selector of the element to fill (default: #fednode-comments, else after the script)
 * data-theme   light or dark (default: the reader's prefers-color-scheme)
 * It makes no request itself and sets no cookie; the host page's CSP needs
 * script-src NODE and frame-src NODE.  See docs/embedding.md. */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || !script.src) return;
  var node = new URL(script.src).origin;
  var frame = document.createElement("iframe");

  function pageUrl() {
    var given = script.getAttribute("data-url");
    var canonical = document.querySelector('link[rel="canonical"][href]');
    if (given) return new URL(given, location.href).href;
    if (canonical) return canonical.href;
    return location.href.split("#")[0];
  }

  function place() {
    var selector = script.getAttribute("data-target");
    var box = document.querySelector(selector || "#fednode-comments");
    if (box) box.appendChild(frame);
    else if (script.parentNode && script.parentNode !== document.head) script.parentNode.insertBefore(frame, script.nextSibling);
    else document.body.appendChild(frame);
  }

  var query = "url=" + encodeURIComponent(pageUrl());
  var theme = script.getAttribute("data-theme");
  if (theme === "light" || theme === "dark") query += "&theme=" + theme;
  frame.src = node + "/embed/thread?" + query;
  frame.title = script.getAttribute("data-title") || "Comments";
  frame.className = "fednode-comments";
  // CSSOM, not a style attribute: a host page's strict CSP (no 'unsafe-inline' styles) allows it.
  frame.style.display = "block";
  frame.style.width = "100%";
  frame.style.border = "0";
  frame.style.height = "16rem";
  frame.style.colorScheme = "normal";

  // Only the node's own frame may size it (and ask to scroll to a comment).
  window.addEventListener("message", function (event) {
    var data = event.data;
    if (event.origin !== node || event.source !== frame.contentWindow || !data || data.fednode !== 1) return;
    if (typeof data.height === "number" && data.height > 0 && data.height < 1e6) {
      frame.style.height = Math.ceil(data.height) + "px";
    }
    if (typeof data.scroll === "number" && data.scroll >= 0) {
      window.scrollTo({ top: frame.getBoundingClientRect().top + window.pageYOffset + data.scroll - 16, behavior: "smooth" });
    }
  });

  if (document.readyState === "loading" && (!script.parentNode || script.parentNode === document.head)) {
    document.addEventListener("DOMContentLoaded", place);
  } else {
    place();
  }
})();
