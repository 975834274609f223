// The popup: runs only when the member clicks the extension's button (or opens this page).
//
// It takes the address of the tab the button was clicked in (readable thanks to `activeTab`,
// only after that click), asks each configured node for that page's discussion and shows it.
// Opened as a tab with `?url=<page>` ("open in a tab"), it shows that page's discussion instead.
import { ext } from "./browser.js";
import { NodeError, findThread, nextPage, openDiscussion, postComment } from "./api.js";
import { el, link, linkProps, safeHref, sanitised, when } from "./render.js";
import { loadNodes, originPattern } from "./settings.js";

const $ = (id) => document.getElementById(id);

async function pageUrl() {
  const asked = new URLSearchParams(location.search).get("url");
  if (asked) return asked;
  const [tab] = await ext.tabs.query({ active: true, currentWindow: true });
  return tab?.url || "";
}

function isWebPage(url) {
  try {
    const parsed = new URL(url);
    return parsed.protocol === "https:" || parsed.protocol === "http:";
  } catch {
    return false;
  }
}

const host = (node) => new URL(node.url).host;

function optionsButton(text = "Open options") {
  return el("button", { type: "button", className: "secondary", text, onclick: () => ext.runtime.openOptionsPage() });
}

// --- comments -------------------------------------------------------------------------

function author(comment) {
  const who = comment.author ?? {};
  return { name: who.name || who.handle || "someone", handle: who.handle || "", url: who.url };
}

function replyForm(node, inReplyTo, placeholder, done) {
  const text = el("textarea", { name: "content", rows: "3", required: true, placeholder, "aria-label": placeholder });
  const status = el("p", { className: "status", role: "status" });
  const submit = el("button", { type: "submit", text: "Post" });
  const form = el("form", { className: "compose" }, text, el("div", { className: "row" }, submit, status));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!text.value.trim()) return;
    submit.disabled = true;
    status.className = "status";
    status.textContent = "Posting…";
    try {
      if (!(await ext.permissions.contains({ origins: [originPattern(node.url)] }))) {
        throw new NodeError(`the extension has no access to ${host(node)} yet: save it again in the options`);
      }
      const posted = await postComment(node, inReplyTo, text.value);
      text.value = "";
      if (posted?.held) {
        // Held by the forum's moderation policy: only the moderators see it until approved.
        status.textContent = "Posted. A moderator will look at it before others see it.";
        submit.disabled = false;
        return;
      }
      await done(posted?.comment?.id);
    } catch (error) {
      status.className = "status error";
      status.textContent = `Not posted: ${error.message}`;
      submit.disabled = false;
    }
  });
  return form;
}

function commentItem(node, comment, refresh) {
  const who = author(comment);
  // The date links to the comment on the node.
  let stamp = when(comment.published);
  if (stamp && safeHref(comment.html_url)) stamp = el("a", { ...linkProps(comment.html_url), className: "when" }, stamp);
  const meta = el("div", { className: "meta" },
    comment.deleted ? null : who.url ? link(who.url, who.name, "author") : el("span", { className: "author", text: who.name }),
    comment.deleted ? null : el("span", { className: "handle", text: who.handle }),
    stamp);
  const body = el("div", { className: "content" });
  if (comment.deleted) {
    body.append(el("p", { className: "placeholder", text: "(deleted)" }));
  } else if (comment.summary) {
    // A content warning: the text stays folded behind it, as on the node.
    body.append(el("details", {}, el("summary", { text: comment.summary }), sanitised(comment.content)));
  } else {
    body.append(sanitised(comment.content));
  }
  const item = el("li", { className: comment.deleted ? "comment deleted" : "comment", "data-id": comment.id }, meta, body);
  if (node.token && !comment.deleted) {
    const button = el("button", { type: "button", className: "link small", text: "reply" });
    button.addEventListener("click", () => {
      const open = item.querySelector(":scope > form.compose");
      if (open) return open.querySelector("textarea").focus();
      const form = replyForm(node, comment.id, `Reply to ${who.name}`, refresh);
      button.after(form);
      form.querySelector("textarea").focus();
    });
    item.append(button);
  }
  const replies = Array.isArray(comment.replies) ? comment.replies : [];
  if (replies.length) {
    item.append(el("ol", { className: "replies" }, replies.map((reply) => commentItem(node, reply, refresh))));
  }
  if (comment.more_replies > 0) {
    const more = comment.more_replies === 1 ? "1 more reply" : `${comment.more_replies} more replies`;
    item.append(el("p", { className: "more small" }, link(comment.html_url, `${more} on ${host(node)}`)));
  }
  return item;
}

// --- one node's section ---------------------------------------------------------------

// "More comments": the next page of the thread, appended to the list.
function moreButton(node, next, list, refresh) {
  const status = el("span", { className: "status", role: "status" });
  const button = el("button", { type: "button", className: "secondary", text: "More comments" });
  const row = el("div", { className: "row more" }, button, status);
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      const page = await nextPage(node, next);
      list.append(...page.comments.map((c) => commentItem(node, c, refresh)));
      row.replaceWith(...(page.next ? [moreButton(node, page.next, list, refresh)] : []));
    } catch (error) {
      status.className = "status error";
      status.textContent = error.message;
      button.disabled = false;
    }
  });
  return row;
}

function showThread(section, node, thread, refresh) {
  const heading = el("h1", {}, thread.htmlUrl ? link(thread.htmlUrl, thread.title) : thread.title);
  const count = el("p", { className: "count", text: thread.count === 1 ? "1 comment" : `${thread.count} comments` });
  section.append(heading, count);
  if (thread.closed) {
    section.append(el("p", { className: "closed", role: "note",
      text: "The source's comments are closed; the discussion continues here." + (thread.closedReason ? ` (${thread.closedReason})` : "") }));
  }
  const list = el("ol", { className: "thread" }, thread.comments.map((c) => commentItem(node, c, refresh)));
  if (thread.comments.length) section.append(list);
  else section.append(el("p", { className: "hint", text: "No comments yet." }));
  if (thread.next) section.append(moreButton(node, thread.next, list, refresh));
  if (node.token) {
    section.append(replyForm(node, thread.id, "Your comment (Markdown)", refresh));
  } else {
    section.append(el("p", { className: "hint" }, `To comment, add your API token for ${host(node)} in the options. `, optionsButton()));
  }
  if (thread.htmlUrl) section.append(el("p", { className: "footer" }, link(thread.htmlUrl, `Open the thread on ${host(node)}`)));
}

function showNone(section, node, page, refresh) {
  section.append(el("p", { className: "empty", text: "No discussion yet" }));
  if (!node.token) {
    section.append(el("p", { className: "hint" }, `To open one, add your API token for ${host(node)} in the options. `, optionsButton()));
    return;
  }
  const status = el("p", { className: "status", role: "status" });
  const button = el("button", { type: "button", className: "open", text: "Open a discussion of this page" });
  button.addEventListener("click", async () => {
    button.disabled = true;
    status.className = "status";
    status.textContent = `Asking ${host(node)} to open one…`;
    try {
      if (!(await ext.permissions.contains({ origins: [originPattern(node.url)] }))) {
        throw new NodeError(`the extension has no access to ${host(node)} yet: save it again in the options`);
      }
      await openDiscussion(node, page);
      await refresh();
    } catch (error) {
      status.className = "status error";
      status.textContent = `Not opened: ${error.message}`;
      button.disabled = false;
    }
  });
  section.append(el("div", { className: "row" }, button, status));
  section.append(el("p", { className: "hint",
    text: `Opening one makes ${host(node)} read this page once (for its title) and starts a public thread about it, under your name.` }));
}

// Ask one node and show its answer in `section`; `posted` is the id of a comment just posted, shown set apart.
async function showNode(section, node, page, posted) {
  const refresh = (id) => showNode(section, node, page, id);
  const label = el("p", { className: "node", text: host(node) });
  section.replaceChildren(label, el("p", { className: "hint", text: `Asking ${host(node)}…` }));
  section.setAttribute("aria-busy", "true");
  try {
    const answer = await findThread(node, page);
    section.replaceChildren(label);
    if (answer.found) showThread(section, node, answer.thread, refresh);
    else showNone(section, node, page, refresh);
    const mine = posted && [...section.querySelectorAll(".comment")].find((item) => item.dataset.id === posted);
    if (mine) {
      mine.classList.add("posted");
      mine.scrollIntoView({ block: "nearest" });
    }
  } catch (error) {
    section.replaceChildren(label, el("p", { className: "error", text: error.message }));
  } finally {
    section.removeAttribute("aria-busy");
  }
}

async function main() {
  $("options").addEventListener("click", () => ext.runtime.openOptionsPage());
  if (new URLSearchParams(location.search).has("url")) document.body.classList.add("tab");
  const page = await pageUrl();
  const out = $("nodes");
  if (!isWebPage(page)) {
    out.append(el("p", { className: "hint", text: "This tab has no web address (http or https) to discuss, so nothing was asked." }));
    return;
  }
  const nodes = (await loadNodes()).filter((node) => node.url);
  if (nodes.length === 0) {
    out.append(el("p", { className: "hint", text: "Choose the forum(s) to ask in the options first; nothing was asked." }), optionsButton());
    return;
  }
  // Say exactly what is sent, and to whom.
  $("asked").hidden = false;
  $("asked").append(`Sent to ${nodes.map(host).join(", ")}: `, el("span", { className: "url", text: page }));
  const inTab = $("in-tab");
  inTab.href = `popup.html?url=${encodeURIComponent(page)}`;
  inTab.hidden = new URLSearchParams(location.search).has("url");
  await Promise.all(nodes.map((node) => {
    const section = el("section", { className: "node-section" });
    out.append(section);
    return showNode(section, node, page);
  }));
}

// `data-settled` on <body> once every node has answered (or failed), for scripts and tests that wait.
main().finally(() => { document.body.dataset.settled = "true"; });
