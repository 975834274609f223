// The options page: the node(s) to ask and the member's API token for each.
//
// Saving asks the browser for host access to exactly the saved nodes' origins (the manifest
// only lists them as optional) and gives back access to any node no longer listed.  The
// request is made first thing in the click handler, while the click still counts as the
// user's gesture the browser requires.
import { ext } from "./browser.js";
import { loadNodes, normaliseNodeUrl, originPattern, saveNodes } from "./settings.js";

const rows = document.getElementById("rows");
const status = document.getElementById("status");

function tokenHint(row) {
  const hint = row.querySelector(".token-hint");
  hint.replaceChildren();
  let url;
  try {
    url = normaliseNodeUrl(row.querySelector("[name=url]").value);
  } catch {
    hint.textContent = "Make a token on your forum's “API tokens” page (/account/tokens), signed in.";
    return;
  }
  const page = document.createElement("a");
  page.href = `${url}/account/tokens`;
  page.target = "_blank";
  page.rel = "noopener noreferrer";
  page.textContent = `${url}/account/tokens`;
  hint.append("Make a token at ", page, " (signed in; let it post comments and open discussions). " +
    "Without one you can read, not comment.");
}

function addRow(node = { url: "", token: "" }) {
  const row = document.getElementById("row").content.firstElementChild.cloneNode(true);
  row.querySelector("[name=url]").value = node.url;
  row.querySelector("[name=token]").value = node.token;
  row.querySelector("[name=url]").addEventListener("input", () => tokenHint(row));
  row.querySelector(".remove").addEventListener("click", () => {
    row.remove();
    if (!rows.children.length) addRow();
  });
  tokenHint(row);
  rows.append(row);
  return row;
}

function read() {
  const nodes = [];
  const problems = [];
  for (const row of rows.children) {
    const url = row.querySelector("[name=url]").value;
    const token = row.querySelector("[name=token]").value.trim();
    if (!url.trim() && !token) continue;
    try {
      nodes.push({ url: normaliseNodeUrl(url), token });
    } catch (error) {
      problems.push(error.message);
    }
  }
  return { nodes, problems };
}

function say(text, kind = "") {
  status.className = `status ${kind}`;
  status.textContent = text;
}

async function save(event) {
  event.preventDefault();
  const { nodes, problems } = read();
  if (problems.length) return say(`Not saved: ${problems.join("; ")}`, "error");
  const wanted = [...new Set(nodes.map((node) => originPattern(node.url)))];
  say(wanted.length ? `Asking the browser for access to ${wanted.join(", ")}…` : "Saving…");
  let granted = wanted.length === 0;
  try {
    if (wanted.length) granted = await ext.permissions.request({ origins: wanted });
  } catch (error) {
    return say(`Not saved: ${error.message}`, "error");
  }
  await saveNodes(nodes);
  // Give back access to forums no longer listed.
  const held = (await ext.permissions.getAll()).origins ?? [];
  const stale = held.filter((origin) => !wanted.includes(origin));
  if (stale.length) await ext.permissions.remove({ origins: stale }).catch(() => false);
  if (granted) say(nodes.length ? `Saved. The extension may talk to ${wanted.join(", ")}.` : "Saved. No forum is listed.", "ok");
  else say("Saved, but the browser did not grant access: you can read discussions, not comment or open them.", "error");
}

async function main() {
  const nodes = await loadNodes();
  (nodes.length ? nodes : [{ url: "", token: "" }]).forEach(addRow);
  document.getElementById("add").addEventListener("click", () => addRow().querySelector("input").focus());
  document.getElementById("form").addEventListener("submit", save);
}

main();
