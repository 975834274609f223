// Talking to a node's API (docs/api.md): find the thread of a page, comment, open a discussion.
//
// Every call goes to the node the member configured and nowhere else, without cookies
// (`credentials: "omit"`: a lookup does not tell the node which signed-in member asked) and
// without a Referer.  Writes carry the member's API token as a Bearer token.

export class NodeError extends Error {
  constructor(message, status = 0) {
    super(message);
    this.status = status;
  }
}

// `path` is under the node's base URL ("/api/v1/…"), or a full URL already checked to be on it.
async function call(node, path, { method = "GET", body, token } = {}) {
  const headers = { Accept: "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path.startsWith("/") ? node.url + path : path, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "omit", cache: "no-store", referrerPolicy: "no-referrer",
    });
  } catch (error) {
    throw new NodeError(`could not reach ${new URL(node.url).host} (${error.message})`);
  }
  let json = null;
  try {
    json = await response.json();
  } catch {
    // Not JSON (a proxy's error page, say): the status says enough.
  }
  return { status: response.status, json };
}

function reason(answer, fallback) {
  const said = answer.json && (answer.json.error || answer.json.message);
  return typeof said === "string" && said ? said : `${fallback} (HTTP ${answer.status})`;
}

// The thread as the popup shows it, from the API's answer (docs/api.md, `GET /api/v1/thread`).
function readThread(json, page) {
  const summary = json.thread ?? {};
  return {
    id: summary.id,
    title: summary.title || summary.url || page,
    siteName: summary.site_name || "",
    url: summary.url || page,
    count: Number(summary.comments_count ?? 0),
    closed: Boolean(summary.closed_at_source),
    closedReason: summary.closed_reason || "",
    htmlUrl: summary.html_url,
    comments: Array.isArray(json.comments) ? json.comments : [],
    next: typeof json.next === "string" ? json.next : null,
  };
}

// {found: true, thread} or {found: false, canonical}; a NodeError for anything else.
export async function findThread(node, page) {
  const answer = await call(node, `/api/v1/thread?url=${encodeURIComponent(page)}`);
  if (answer.status === 200 && answer.json) return { found: true, thread: readThread(answer.json, page) };
  // The API's 404 says which address it looked for; any other 404 is a server without this API.
  if (answer.status === 404 && typeof answer.json?.canonical === "string") return { found: false, canonical: answer.json.canonical };
  if (answer.status === 404) throw new NodeError(`${new URL(node.url).host} has no discussion API (is it a Fednode forum?)`, 404);
  throw new NodeError(reason(answer, "the node could not look this page up"), answer.status);
}

// The next page of a thread's comments: `next` as the node gave it, followed only on that node.
export async function nextPage(node, next) {
  const url = new URL(next, node.url);
  if (url.origin !== new URL(node.url).origin) throw new NodeError("the node pointed the next page elsewhere");
  const answer = await call(node, url.href);
  if (answer.status === 200 && answer.json) return readThread(answer.json, "");
  throw new NodeError(reason(answer, "the node could not give more comments"), answer.status);
}

export async function postComment(node, inReplyTo, content) {
  const answer = await call(node, "/api/v1/comments", {
    method: "POST", token: node.token, body: { in_reply_to: inReplyTo, content },
  });
  if (answer.status === 200 || answer.status === 201 || answer.status === 202) return answer.json;
  throw new NodeError(reason(answer, "the node did not take the comment"), answer.status);
}

export async function openDiscussion(node, page) {
  const answer = await call(node, "/api/v1/discussions", { method: "POST", token: node.token, body: { url: page } });
  if (answer.status === 200 || answer.status === 201) return answer.json;
  throw new NodeError(reason(answer, "the node did not open a discussion"), answer.status);
}
