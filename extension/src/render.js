// Building the popup's DOM from the API's data without ever assigning HTML to a live page.
//
// The node sanitises comment HTML already (nh3), but the extension does not rely on that: the
// HTML is parsed into an inert document (DOMParser runs no script and loads nothing), and
// only an allow-list of elements is rebuilt with createElement/textContent; links keep an
// http(s) href and nothing else.  Anything else keeps its text and loses its markup.

const KEEP = new Set(["p", "br", "em", "strong", "b", "i", "code", "pre", "blockquote", "ul", "ol", "li",
  "del", "s", "sub", "sup"]);
const DROP = new Set(["script", "style", "template", "iframe", "object", "embed", "noscript", "svg", "math",
  "head", "title", "form", "input", "button", "select", "textarea", "img", "video", "audio", "picture", "link",
  "meta"]);

export function safeHref(href) {
  try {
    const url = new URL(href);
    return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
  } catch {
    return null;
  }
}

export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "text") node.textContent = value;
    else if (name === "className") node.className = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return node;
}

// A link out of the popup: a new tab, telling the target nothing about where it came from.
export function linkProps(href) {
  return { href: safeHref(href), target: "_blank", rel: "noopener noreferrer" };
}

export function link(href, text, className) {
  if (!safeHref(href)) return el("span", { className, text });
  return el("a", { ...linkProps(href), className, text });
}

function copy(source, into) {
  for (const child of source.childNodes) {
    if (child.nodeType === Node.TEXT_NODE) {
      into.append(document.createTextNode(child.data));
    } else if (child.nodeType === Node.ELEMENT_NODE) {
      const tag = child.localName;
      if (DROP.has(tag)) continue;
      let made = null;
      if (KEEP.has(tag)) made = document.createElement(tag);
      else if (tag === "a") {
        const href = safeHref(child.getAttribute("href") || "");
        made = href ? el("a", { href, target: "_blank", rel: "noopener noreferrer nofollow" }) : el("span");
      }
      if (made) {
        copy(child, made);
        into.append(made);
      } else {
        copy(child, into); // unknown markup: keep its text
      }
    }
  }
}

// A fragment holding the allowed structure and text of `html`.
export function sanitised(html) {
  const inert = new DOMParser().parseFromString(String(html ?? ""), "text/html");
  const fragment = document.createDocumentFragment();
  copy(inert.body, fragment);
  return fragment;
}

export function when(iso) {
  const date = new Date(iso);
  if (!iso || Number.isNaN(date.getTime())) return null;
  return el("time", { datetime: date.toISOString(), title: date.toLocaleString(), text: date.toLocaleDateString(undefined, { year: "numeric", month: "short", day: "numeric" }) });
}
