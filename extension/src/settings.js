// The member's settings: which node(s) to ask, and an API token for each.
//
// Kept in `storage.local` (never `storage.sync`: a token is a password and stays on this
// device).  A build made for one forum (`build --node URL`) ships `preset.json` naming it;
// it is the starting list until the member saves their own.
import { ext } from "./browser.js";

const KEY = "nodes";

// A node's base URL as the extension stores and calls it: http(s), no user name or password,
// no query or fragment, no trailing slash.  Throws an Error whose message says what is wrong.
export function normaliseNodeUrl(text) {
  let url;
  try {
    url = new URL(text.trim());
  } catch {
    throw new Error(`“${text.trim()}” is not a web address (try https://forum.example)`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new Error(`a forum's address starts with https:// (not ${url.protocol})`);
  }
  if (url.username || url.password) throw new Error("a forum's address has no user name or password in it");
  if (url.search || url.hash) throw new Error("a forum's address has no ?query or #fragment");
  return url.origin + url.pathname.replace(/\/+$/, "");
}

// The host permission to ask for, for a node: its scheme and host.  Match patterns cannot name
// a port in Firefox, and in Chromium a pattern without one matches every port of the host.
export function originPattern(nodeUrl) {
  const url = new URL(nodeUrl);
  return `${url.protocol}//${url.hostname}/*`;
}

async function preset() {
  try {
    const response = await fetch(ext.runtime.getURL("preset.json"));
    const body = await response.json();
    return Array.isArray(body.nodes) ? body.nodes.map((url) => ({ url, token: "" })) : [];
  } catch {
    return [];
  }
}

// [{url, token}], in the member's order.
export async function loadNodes() {
  const stored = await ext.storage.local.get(KEY);
  if (Array.isArray(stored[KEY])) return stored[KEY];
  return preset();
}

export async function saveNodes(nodes) {
  await ext.storage.local.set({ [KEY]: nodes });
}
