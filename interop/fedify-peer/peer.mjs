// A real Fedify-based fediverse peer for Fednode's interop tests.
//
// It serves one actor, `alice`, on http://127.0.0.1:$PORT with Fedify 2.3.6
// (WebFinger, actor, inboxes, collections, notes and activities are served by
// Fedify itself) and a small JSON control API under /control/ that the pytest
// fixture (tests/interop/fedify.py) drives.
//
// Environment:
//   PORT                  port to listen on (127.0.0.1), required
//   FIRST_KNOCK           rfc9421 (default) | draft-cavage: the HTTP signature
//                         spec Fedify tries first for outgoing signed requests
//   REQUIRE_SIGNED_FETCH  1 = actor, collection and object GETs must carry a
//                         valid HTTP signature (authorized fetch), else 401
//   AUTO_ACCEPT           1 (default) = answer every Follow of alice with
//                         Accept(Follow); 0 = only record it (see /control/accept)
//   LOG_LEVEL             LogTape level for Fedify's logs on stderr
//                         (debug|info|warning|error; default warning)
//
// Everything is in memory; the process is meant to live for one test.

import { AsyncLocalStorage } from "node:async_hooks";
import { randomUUID } from "node:crypto";
import http from "node:http";
import process from "node:process";

import {
  createFederation,
  generateCryptoKeyPair,
  MemoryKvStore,
} from "@fedify/fedify";
import {
  Accept,
  Announce,
  Create,
  Delete,
  Endpoints,
  Follow,
  isActor,
  Like,
  Mention,
  Note,
  Person,
  PUBLIC_COLLECTION,
  Reject,
  Tombstone,
  Undo,
  Update,
} from "@fedify/vocab";
import { Temporal } from "@js-temporal/polyfill";
import { configure, getTextFormatter } from "@logtape/logtape";

// ---------------------------------------------------------------------------
// Configuration

const PORT = Number.parseInt(process.env.PORT ?? "", 10);
if (!Number.isInteger(PORT) || PORT <= 0 || PORT > 65535) {
  process.stderr.write("peer.mjs: set PORT to a TCP port (1-65535)\n");
  process.exit(2);
}
const HOST = "127.0.0.1";
const ORIGIN = `http://${HOST}:${PORT}`;
const USERNAME = "alice";

const KNOCKS = {
  "rfc9421": "rfc9421",
  "draft-cavage": "draft-cavage-http-signatures-12",
  "draft-cavage-http-signatures-12": "draft-cavage-http-signatures-12",
  "cavage": "draft-cavage-http-signatures-12",
};
const FIRST_KNOCK = KNOCKS[(process.env.FIRST_KNOCK ?? "rfc9421").trim()];
if (FIRST_KNOCK == null) {
  process.stderr.write(
    `peer.mjs: FIRST_KNOCK must be rfc9421 or draft-cavage, got ${process.env.FIRST_KNOCK}\n`,
  );
  process.exit(2);
}
const truthy = (v, dflt) =>
  v == null || v === "" ? dflt : ["1", "true", "yes", "on"].includes(v.toLowerCase());
const REQUIRE_SIGNED_FETCH = truthy(process.env.REQUIRE_SIGNED_FETCH, false);
const AUTO_ACCEPT = truthy(process.env.AUTO_ACCEPT, true);
const LOG_LEVEL = process.env.LOG_LEVEL ?? "warning";

// Fedify logs through LogTape; send everything to stderr (stdout carries READY).
const textFormatter = getTextFormatter();
await configure({
  contextLocalStorage: new AsyncLocalStorage(),
  sinks: { stderr: (record) => process.stderr.write(textFormatter(record)) },
  loggers: [
    { category: "fedify", lowestLevel: LOG_LEVEL, sinks: ["stderr"] },
    { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["stderr"] },
  ],
});

// ---------------------------------------------------------------------------
// Logs the control API exposes

const received = []; // verified activities delivered to our inboxes
const rejected = []; // inbox deliveries Fedify refused (bad/missing signature)
const inboxErrors = []; // exceptions thrown by our inbox listeners
const incoming = []; // every HTTP request served (method, path, status, signer)
const outgoing = []; // every HTTP request Fedify made (fetches and deliveries)
const deliveries = []; // every sendActivity attempt and its outcome

// Per-request context: the raw body/headers of an inbound request, or the
// outgoing-request list of one control call.
const als = new AsyncLocalStorage();

const now = () => new Date().toISOString();

function signatureScheme(headers) {
  if (headers.get("signature-input") != null) return "rfc9421";
  if (headers.get("signature") != null) return "draft-cavage";
  return null;
}

function headersObject(headers) {
  const out = {};
  for (const [k, v] of headers) out[k] = v;
  return out;
}

// ---------------------------------------------------------------------------
// fetch wrapper: record every outgoing request, and rewrite WebFinger lookups
// of loopback hosts from https:// to http:// (Fedify always asks
// https://host/.well-known/webfinger for @user@host).  Only that one request,
// only for 127.0.0.1 / localhost / ::1.

const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]"]);
const originalFetch = globalThis.fetch;

globalThis.fetch = async function peerFetch(input, init) {
  let request = input instanceof Request ? input : new Request(input, init);
  if (input instanceof Request && init != null) request = new Request(input, init);
  const url = new URL(request.url);
  if (
    url.protocol === "https:" && LOOPBACK.has(url.hostname) &&
    url.pathname === "/.well-known/webfinger"
  ) {
    url.protocol = "http:";
    request = new Request(url, request);
  }
  const entry = {
    at: now(),
    method: request.method,
    url: request.url,
    signature_scheme: signatureScheme(request.headers),
    headers: headersObject(request.headers),
    status: null,
    error: null,
  };
  outgoing.push(entry);
  als.getStore()?.outgoing?.push(entry);
  try {
    const response = await originalFetch(request, {
      redirect: init?.redirect ?? request.redirect,
    });
    entry.status = response.status;
    return response;
  } catch (error) {
    entry.error = String(error?.cause ?? error);
    throw error;
  }
};

// ---------------------------------------------------------------------------
// State

const keyPairs = [
  await generateCryptoKeyPair("RSASSA-PKCS1-v1_5"),
  await generateCryptoKeyPair("Ed25519"),
];
const followers = new Map(); // actor id -> { id, inboxId, endpoints, follow }
const following = new Map(); // actor id -> { follow_id, state }
const notes = new Map(); // note uuid -> { note, recipients, deleted }
const sent = new Map(); // activity id (href) -> { activity, recipients, kind, uuid }
const sentByPath = new Map(); // "kind/uuid" -> activity object

const ACTIVITY_CLASSES = {
  follow: Follow,
  accept: Accept,
  reject: Reject,
  create: Create,
  update: Update,
  delete: Delete,
  like: Like,
  announce: Announce,
  undo: Undo,
};

function newActivityId(kind) {
  const uuid = randomUUID();
  return { uuid, id: new URL(`${ORIGIN}/activities/${kind}/${uuid}`) };
}

// ---------------------------------------------------------------------------
// Federation

const federation = createFederation({
  kv: new MemoryKvStore(),
  origin: ORIGIN,
  allowPrivateAddress: true, // loopback peers; cannot combine with custom loaders
  firstKnock: FIRST_KNOCK,
  // no queue: sendActivity delivers immediately and throws on failure, and
  // inbox listeners run before the inbox answers.
});

const authorize = REQUIRE_SIGNED_FETCH
  ? async (ctx) => {
    const store = als.getStore();
    let owner = null;
    try {
      owner = await ctx.getSignedKeyOwner();
    } catch (error) {
      if (store?.entry) store.entry.authorize_error = String(error);
    }
    if (store?.entry) store.entry.signer = owner?.id?.href ?? null;
    return owner != null;
  }
  : null;

function withAuth(setters) {
  if (authorize != null) setters.authorize(authorize);
  return setters;
}

withAuth(
  federation
    .setActorDispatcher("/users/{identifier}", async (ctx, identifier) => {
      if (identifier !== USERNAME) return null;
      const keys = await ctx.getActorKeyPairs(identifier);
      return new Person({
        id: ctx.getActorUri(identifier),
        preferredUsername: identifier,
        name: "Alice (Fedify peer)",
        summary: "A Fedify 2.3.6 test peer for Fednode interop tests.",
        url: ctx.getActorUri(identifier),
        inbox: ctx.getInboxUri(identifier),
        outbox: ctx.getOutboxUri(identifier),
        followers: ctx.getFollowersUri(identifier),
        following: ctx.getFollowingUri(identifier),
        endpoints: new Endpoints({ sharedInbox: ctx.getInboxUri() }),
        manuallyApprovesFollowers: !AUTO_ACCEPT,
        discoverable: true,
        publicKey: keys[0].cryptographicKey,
        assertionMethods: keys.map((k) => k.multikey),
      });
    })
    .setKeyPairsDispatcher((_ctx, identifier) => identifier === USERNAME ? keyPairs : [])
    .mapHandle((_ctx, username) => username === USERNAME ? USERNAME : null),
);

withAuth(
  federation.setFollowersDispatcher(
    "/users/{identifier}/followers",
    (_ctx, identifier) => {
      if (identifier !== USERNAME) return null;
      return {
        items: [...followers.values()].map((f) => ({
          id: new URL(f.id),
          inboxId: f.inboxId ? new URL(f.inboxId) : null,
          endpoints: f.sharedInbox ? { sharedInbox: new URL(f.sharedInbox) } : null,
        })),
      };
    },
  ),
);

withAuth(
  federation.setFollowingDispatcher(
    "/users/{identifier}/following",
    (_ctx, identifier) => {
      if (identifier !== USERNAME) return null;
      return {
        items: [...following.entries()]
          .filter(([, f]) => f.state === "accepted")
          .map(([id]) => new URL(id)),
      };
    },
  ),
);

withAuth(
  federation.setOutboxDispatcher("/users/{identifier}/outbox", (_ctx, identifier) => {
    if (identifier !== USERNAME) return null;
    return { items: [...sent.values()].map((s) => s.activity).reverse() };
  }),
);

withAuth(
  federation.setObjectDispatcher(Note, "/notes/{id}", (_ctx, { id }) => {
    const stored = notes.get(id);
    return stored == null || stored.deleted ? null : stored.note;
  }),
);

for (const [kind, cls] of Object.entries(ACTIVITY_CLASSES)) {
  withAuth(
    federation.setObjectDispatcher(
      cls,
      `/activities/${kind}/{id}`,
      (_ctx, { id }) => sentByPath.get(`${kind}/${id}`) ?? null,
    ),
  );
}

// --- inbox ------------------------------------------------------------------

async function record(ctx, activity) {
  const store = als.getStore();
  let raw = null;
  try {
    raw = await activity.toJsonLd({ format: "compact", contextLoader: ctx.contextLoader });
  } catch (error) {
    raw = { error: String(error) };
  }
  let body = null;
  if (store?.rawBody != null) {
    try {
      body = JSON.parse(store.rawBody);
    } catch {
      body = store.rawBody;
    }
  }
  const entry = {
    at: now(),
    type: activity.constructor.name,
    id: activity.id?.href ?? null,
    actor: activity.actorId?.href ?? null,
    object: activity.objectId?.href ?? null,
    recipient: ctx.recipient ?? null, // null = shared inbox
    inbox: store?.path ?? null,
    signature_scheme: store?.headers ? signatureScheme(store.headers) : null,
    headers: store?.headers ? headersObject(store.headers) : null,
    raw,
    body,
  };
  received.push(entry);
  if (store?.entry) store.entry.activity = entry.id;
  return entry;
}

async function sendAcceptOrReject(ctx, follow, cls) {
  const kind = cls === Accept ? "accept" : "reject";
  const follower = await follow.getActor(ctx);
  const { uuid, id } = newActivityId(kind);
  const activity = new cls({
    id,
    actor: ctx.getActorUri(USERNAME),
    object: follow,
    to: follow.actorId,
  });
  const result = await deliver(ctx, kind, uuid, activity, [follower]);
  if (cls === Accept && result.ok && follower?.id != null) {
    followers.set(follower.id.href, {
      id: follower.id.href,
      inboxId: follower.inboxId?.href ?? null,
      sharedInbox: follower.endpoints?.sharedInbox?.href ?? null,
      follow: follow.id?.href ?? null,
    });
  }
  return result;
}

federation
  .setInboxListeners("/users/{identifier}/inbox", "/inbox")
  .on(Follow, async (ctx, follow) => {
    await record(ctx, follow);
    if (follow.objectId?.href !== ctx.getActorUri(USERNAME).href) return;
    if (AUTO_ACCEPT) {
      // Not awaited: the Follow's sender gets its 202 first, then the Accept.
      sendAcceptOrReject(ctx, follow, Accept).catch((error) =>
        inboxErrors.push({ at: now(), error: String(error), stack: error?.stack })
      );
    }
  })
  .on(Accept, async (ctx, accept) => {
    await record(ctx, accept);
    markFollow(accept, "accepted");
  })
  .on(Reject, async (ctx, reject) => {
    await record(ctx, reject);
    markFollow(reject, "rejected");
  })
  .on(Create, async (ctx, activity) => void await record(ctx, activity))
  .on(Update, async (ctx, activity) => void await record(ctx, activity))
  .on(Delete, async (ctx, activity) => void await record(ctx, activity))
  .on(Announce, async (ctx, activity) => void await record(ctx, activity))
  .on(Like, async (ctx, activity) => void await record(ctx, activity))
  .on(Undo, async (ctx, undo) => {
    await record(ctx, undo);
    const inner = undo.objectId?.href;
    for (const [actorId, f] of followers) {
      if (f.follow != null && f.follow === inner && actorId === undo.actorId?.href) {
        followers.delete(actorId);
      }
    }
  })
  .onUnverifiedActivity((ctx, activity, reason) => {
    const store = als.getStore();
    rejected.push({
      at: now(),
      type: activity?.constructor?.name ?? null,
      id: activity?.id?.href ?? null,
      actor: activity?.actorId?.href ?? null,
      reason: {
        type: reason.type,
        key_id: reason.keyId?.href ?? null,
        result: reason.result == null ? null : JSON.parse(JSON.stringify(reason.result, (_k, v) =>
          v instanceof URL ? v.href : v instanceof Error ? String(v) : v
        )),
      },
      signature_scheme: store?.headers ? signatureScheme(store.headers) : null,
      headers: store?.headers ? headersObject(store.headers) : null,
    });
    // returning nothing keeps Fedify's default 401
  })
  .onError((_ctx, error) => {
    inboxErrors.push({ at: now(), error: String(error), stack: error?.stack });
  });

function markFollow(response, state) {
  // Accept/Reject(Follow): the object may be embedded or just the Follow's id.
  const followId = response.objectId?.href;
  for (const [target, f] of following) {
    if (f.follow_id === followId || target === response.actorId?.href) {
      if (f.follow_id === followId || f.state === "pending") f.state = state;
    }
  }
}

// ---------------------------------------------------------------------------
// Sending

function describeError(error) {
  const out = { error: String(error?.message ?? error) };
  if (error?.statusCode != null) out.status_code = error.statusCode;
  if (error?.inbox != null) out.inbox = String(error.inbox);
  if (error?.responseBody != null) out.response_body = error.responseBody;
  return out;
}

/** Sends `activity` to each recipient's inbox right away; never throws. */
async function deliver(ctx, kind, uuid, activity, recipients, options = {}) {
  sent.set(activity.id.href, { activity, recipients, kind, uuid });
  sentByPath.set(`${kind}/${uuid}`, activity);
  const results = [];
  for (const recipient of recipients) {
    const result = {
      at: now(),
      activity_id: activity.id.href,
      type: activity.constructor.name,
      recipient: recipient?.id?.href ?? null,
      inbox: (options.preferSharedInbox && recipient?.endpoints?.sharedInbox?.href) ||
        recipient?.inboxId?.href || null,
      ok: false,
    };
    try {
      if (recipient?.inboxId == null) throw new Error("recipient has no inbox");
      await ctx.sendActivity({ identifier: USERNAME }, recipient, activity, {
        immediate: true,
        preferSharedInbox: options.preferSharedInbox ?? false,
      });
      result.ok = true;
    } catch (error) {
      Object.assign(result, describeError(error));
    }
    deliveries.push(result);
    results.push(result);
  }
  return {
    ok: results.every((r) => r.ok),
    id: activity.id.href,
    delivered: results,
  };
}

function documentLoaderOptions(ctx, signed) {
  return signed ? ctx.getDocumentLoader({ identifier: USERNAME }) : Promise.resolve(null);
}

async function lookup(ctx, query, signed) {
  const documentLoader = await documentLoaderOptions(ctx, signed);
  return await ctx.lookupObject(query, documentLoader ? { documentLoader } : {});
}

class ControlError extends Error {
  constructor(status, message, extra = {}) {
    super(message);
    this.status = status;
    this.extra = extra;
  }
}

async function lookupActor(ctx, query, signed) {
  const actor = await lookup(ctx, query, signed);
  if (actor == null) throw new ControlError(502, `could not look up ${query}`);
  if (!isActor(actor)) {
    throw new ControlError(422, `${query} is a ${actor.constructor.name}, not an actor`);
  }
  return actor;
}

function instant() {
  return Temporal.Now.instant();
}

function isSpecialAddress(url) {
  return url === PUBLIC_COLLECTION.href || url === "as:Public" || url === "Public" ||
    url.endsWith("/followers");
}

async function addressees(ctx, urls, signed) {
  // Actors among `urls` (not Public or a followers collection), looked up.
  const actors = [];
  const errors = [];
  const seen = new Set();
  for (const url of urls) {
    if (url == null || isSpecialAddress(url) || seen.has(url)) continue;
    seen.add(url);
    try {
      actors.push(await lookupActor(ctx, url, signed));
    } catch (error) {
      errors.push({ recipient: url, ...describeError(error) });
    }
  }
  return { actors, errors };
}

function followerRecipients() {
  return [...followers.values()].map((f) => ({
    id: new URL(f.id),
    inboxId: f.inboxId ? new URL(f.inboxId) : null,
    endpoints: f.sharedInbox ? { sharedInbox: new URL(f.sharedInbox) } : null,
  }));
}

function dedupeRecipients(list) {
  const seen = new Set();
  return list.filter((r) => {
    const key = r?.id?.href;
    if (key == null || seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

// --- control handlers ---------------------------------------------------------

const handlers = {};

handlers["GET /control/health"] = async (ctx) => ({
  ok: true,
  actor: ctx.getActorUri(USERNAME).href,
  inbox: ctx.getInboxUri(USERNAME).href,
  shared_inbox: ctx.getInboxUri().href,
  followers: ctx.getFollowersUri(USERNAME).href,
  handle: `@${USERNAME}@${HOST}:${PORT}`,
  first_knock: FIRST_KNOCK,
  require_signed_fetch: REQUIRE_SIGNED_FETCH,
  auto_accept: AUTO_ACCEPT,
  key_ids: (await ctx.getActorKeyPairs(USERNAME)).map((k) => k.keyId.href),
  node: process.version,
});

handlers["GET /control/received"] = () => received;
handlers["GET /control/rejected"] = () => rejected;
handlers["GET /control/errors"] = () => inboxErrors;
handlers["GET /control/incoming"] = () => incoming;
handlers["GET /control/outgoing"] = () => outgoing;
handlers["GET /control/deliveries"] = () => deliveries;
handlers["GET /control/followers"] = () => [...followers.values()];
handlers["GET /control/following"] = () =>
  [...following.entries()].map(([target, f]) => ({ target, ...f }));
handlers["GET /control/notes"] = async () => {
  const out = [];
  for (const { note, deleted } of notes.values()) {
    out.push({ id: note.id.href, deleted, note: await note.toJsonLd({ format: "compact" }) });
  }
  return out;
};
handlers["POST /control/clear"] = () => {
  for (const list of [received, rejected, inboxErrors, incoming, outgoing, deliveries]) {
    list.length = 0;
  }
  return { ok: true };
};

handlers["POST /control/lookup"] = async (ctx, body) => {
  if (typeof body.query !== "string") throw new ControlError(400, "query is required");
  const object = await lookup(ctx, body.query, body.signed === true);
  if (object == null) throw new ControlError(404, `not found: ${body.query}`);
  return {
    ok: true,
    type: object.constructor.name,
    id: object.id?.href ?? null,
    object: await object.toJsonLd({ format: "compact" }),
  };
};

handlers["POST /control/follow"] = async (ctx, body) => {
  if (typeof body.target !== "string") throw new ControlError(400, "target is required");
  const signed = body.signed === true;
  const target = await lookupActor(ctx, body.target, signed);
  const { uuid, id } = newActivityId("follow");
  const follow = new Follow({
    id,
    actor: ctx.getActorUri(USERNAME),
    object: target.id,
    to: target.id,
  });
  following.set(target.id.href, { follow_id: id.href, state: "pending" });
  const result = await deliver(ctx, "follow", uuid, follow, [target], {
    preferSharedInbox: body.shared_inbox === true,
  });
  if (!result.ok) following.delete(target.id.href);
  return { ...result, target: target.id.href };
};

handlers["POST /control/unfollow"] = async (ctx, body) => {
  if (typeof body.target !== "string") throw new ControlError(400, "target is required");
  const signed = body.signed === true;
  const target = await lookupActor(ctx, body.target, signed);
  const state = following.get(target.id.href);
  if (state == null) throw new ControlError(404, `not following ${target.id.href}`);
  const follow = sent.get(state.follow_id)?.activity;
  const { uuid, id } = newActivityId("undo");
  const undo = new Undo({
    id,
    actor: ctx.getActorUri(USERNAME),
    object: follow ?? new URL(state.follow_id),
    to: target.id,
  });
  const result = await deliver(ctx, "undo", uuid, undo, [target], {
    preferSharedInbox: body.shared_inbox === true,
  });
  if (result.ok) following.delete(target.id.href);
  return { ...result, target: target.id.href, follow_id: state.follow_id };
};

async function acceptOrReject(ctx, body, cls) {
  const followId = body.follow_id ?? body.activity_id;
  const entry = received.find((r) => r.type === "Follow" && (followId == null || r.id === followId));
  if (entry == null) throw new ControlError(404, `no received Follow ${followId ?? ""}`);
  const follow = await Follow.fromJsonLd(entry.raw, { contextLoader: ctx.contextLoader });
  return await sendAcceptOrReject(ctx, follow, cls);
}
handlers["POST /control/accept"] = (ctx, body) => acceptOrReject(ctx, body, Accept);
handlers["POST /control/reject"] = (ctx, body) => acceptOrReject(ctx, body, Reject);

async function createNote(ctx, body, { requireParent }) {
  if (typeof body.content !== "string") throw new ControlError(400, "content is required");
  const signed = body.signed === true;
  const actorUri = ctx.getActorUri(USERNAME);
  const followersUri = ctx.getFollowersUri(USERNAME);
  const extraTo = Array.isArray(body.to) ? body.to : body.to ? [body.to] : [];
  const extraCc = Array.isArray(body.cc) ? body.cc : body.cc ? [body.cc] : [];

  let parent = null;
  let authors = [];
  if (body.inReplyTo != null) {
    parent = await lookup(ctx, body.inReplyTo, signed);
    if (parent == null) throw new ControlError(502, `could not fetch ${body.inReplyTo}`);
    authors = parent.attributionIds.map((u) => u.href);
  } else if (requireParent) {
    throw new ControlError(400, "inReplyTo is required");
  }
  const mentionActor = body.mention ? await lookupActor(ctx, body.mention, signed) : null;
  const mentionIds = mentionActor ? [mentionActor.id.href] : [];

  const to = [...new Set([PUBLIC_COLLECTION.href, ...authors, ...mentionIds, ...extraTo])];
  const cc = [...new Set([followersUri.href, ...extraCc])].filter((u) => !to.includes(u));
  const { actors, errors } = await addressees(ctx, [...to, ...cc], signed);
  const recipients = dedupeRecipients([...actors, ...followerRecipients()]);

  const tags = [];
  if (mentionActor != null) {
    const host = mentionActor.id.host;
    tags.push(new Mention({
      href: mentionActor.id,
      name: `@${mentionActor.preferredUsername ?? "unknown"}@${host}`,
    }));
  }
  const noteUuid = randomUUID();
  const noteId = ctx.getObjectUri(Note, { id: noteUuid });
  const published = instant();
  const note = new Note({
    id: noteId,
    attribution: actorUri,
    content: body.content,
    replyTarget: parent?.id ?? (body.inReplyTo ? new URL(body.inReplyTo) : null),
    tos: to.map((u) => new URL(u)),
    ccs: cc.map((u) => new URL(u)),
    tags,
    published,
    url: noteId,
  });
  notes.set(noteUuid, { note, recipients, deleted: false });
  const { uuid, id } = newActivityId("create");
  const create = new Create({
    id,
    actor: actorUri,
    object: note,
    tos: note.toIds,
    ccs: note.ccIds,
    published,
  });
  const deliverTo = body.deliver === false ? [] : recipients;
  const result = await deliver(ctx, "create", uuid, create, deliverTo, {
    preferSharedInbox: body.shared_inbox === true,
  });
  return {
    ...result,
    ok: result.ok && errors.length === 0,
    activity_id: id.href,
    note_id: noteId.href,
    recipient_errors: errors,
  };
}

handlers["POST /control/note"] = (ctx, body) => createNote(ctx, body, { requireParent: false });
handlers["POST /control/reply"] = (ctx, body) => createNote(ctx, body, { requireParent: true });

function storedNote(ctx, noteId) {
  if (typeof noteId !== "string") throw new ControlError(400, "note_id is required");
  const parsed = ctx.parseUri(new URL(noteId));
  const key = parsed?.type === "object" ? parsed.values.id : null;
  const stored = key == null ? null : notes.get(key);
  if (stored == null) throw new ControlError(404, `no such note ${noteId}`);
  return { key, stored };
}

handlers["POST /control/update"] = async (ctx, body) => {
  const { stored } = storedNote(ctx, body.note_id);
  if (stored.deleted) throw new ControlError(410, "note was deleted");
  if (typeof body.content !== "string") throw new ControlError(400, "content is required");
  let updated = instant();
  const previous = stored.note.updated ?? stored.note.published;
  if (previous != null && Temporal.Instant.compare(updated, previous) <= 0) {
    updated = previous.add({ milliseconds: 1 });
  }
  stored.note = stored.note.clone({ content: body.content, updated });
  const { uuid, id } = newActivityId("update");
  const update = new Update({
    id,
    actor: ctx.getActorUri(USERNAME),
    object: stored.note,
    tos: stored.note.toIds,
    ccs: stored.note.ccIds,
    published: updated,
  });
  const result = await deliver(ctx, "update", uuid, update, stored.recipients, {
    preferSharedInbox: body.shared_inbox === true,
  });
  return { ...result, activity_id: id.href, note_id: stored.note.id.href };
};

handlers["POST /control/delete"] = async (ctx, body) => {
  const { stored } = storedNote(ctx, body.note_id);
  stored.deleted = true;
  const { uuid, id } = newActivityId("delete");
  const del = new Delete({
    id,
    actor: ctx.getActorUri(USERNAME),
    object: new Tombstone({ id: stored.note.id, formerType: Note, deleted: instant() }),
    tos: stored.note.toIds,
    ccs: stored.note.ccIds,
  });
  const result = await deliver(ctx, "delete", uuid, del, stored.recipients, {
    preferSharedInbox: body.shared_inbox === true,
  });
  return { ...result, activity_id: id.href, note_id: stored.note.id.href };
};

async function reactTo(ctx, body, kind) {
  if (typeof body.object !== "string") throw new ControlError(400, "object is required");
  const signed = body.signed === true;
  const object = await lookup(ctx, body.object, signed);
  if (object == null) throw new ControlError(502, `could not fetch ${body.object}`);
  const objectId = object.id ?? new URL(body.object);
  const authors = isActor(object) ? [objectId.href] : object.attributionIds.map((u) => u.href);
  const extra = [
    ...(Array.isArray(body.to) ? body.to : body.to ? [body.to] : []),
    ...(Array.isArray(body.cc) ? body.cc : body.cc ? [body.cc] : []),
  ];
  const { actors, errors } = await addressees(ctx, [...authors, ...extra], signed);
  const actorUri = ctx.getActorUri(USERNAME);
  const { uuid, id } = newActivityId(kind);
  let activity;
  let recipients;
  if (kind === "like") {
    activity = new Like({
      id,
      actor: actorUri,
      object: objectId,
      tos: [...new Set([...authors, ...extra])].map((u) => new URL(u)),
    });
    recipients = actors;
  } else {
    activity = new Announce({
      id,
      actor: actorUri,
      object: objectId,
      to: PUBLIC_COLLECTION,
      ccs: [...new Set([...authors, ...extra, ctx.getFollowersUri(USERNAME).href])]
        .map((u) => new URL(u)),
      published: instant(),
    });
    recipients = dedupeRecipients([...actors, ...followerRecipients()]);
  }
  const result = await deliver(ctx, kind, uuid, activity, recipients, {
    preferSharedInbox: body.shared_inbox === true,
  });
  return {
    ...result,
    ok: result.ok && errors.length === 0,
    activity_id: id.href,
    object: objectId.href,
    recipient_errors: errors,
  };
}
handlers["POST /control/like"] = (ctx, body) => reactTo(ctx, body, "like");
handlers["POST /control/announce"] = (ctx, body) => reactTo(ctx, body, "announce");

handlers["POST /control/undo"] = async (ctx, body) => {
  const original = sent.get(body.activity_id);
  if (original == null) throw new ControlError(404, `no sent activity ${body.activity_id}`);
  const { uuid, id } = newActivityId("undo");
  const undo = new Undo({
    id,
    actor: ctx.getActorUri(USERNAME),
    object: original.activity,
    tos: original.activity.toIds,
    ccs: original.activity.ccIds,
  });
  const result = await deliver(ctx, "undo", uuid, undo, original.recipients, {
    preferSharedInbox: body.shared_inbox === true,
  });
  if (result.ok && original.kind === "follow") {
    for (const [target, f] of following) {
      if (f.follow_id === body.activity_id) following.delete(target);
    }
  }
  return { ...result, activity_id: id.href, undone: body.activity_id };
};

async function handleControl(request, url) {
  const handler = handlers[`${request.method} ${url.pathname}`];
  if (handler == null) {
    return json({ ok: false, error: `no control endpoint ${request.method} ${url.pathname}` }, 404);
  }
  let body = {};
  if (request.method === "POST") {
    const text = await request.text();
    if (text.trim() !== "") {
      try {
        body = JSON.parse(text);
      } catch {
        return json({ ok: false, error: "body is not JSON" }, 400);
      }
    }
  }
  const ctx = federation.createContext(new URL(ORIGIN), undefined);
  const store = { outgoing: [] };
  return await als.run(store, async () => {
    try {
      const result = await handler(ctx, body ?? {});
      if (Array.isArray(result)) return json(result, 200);
      const status = result.ok === false ? 502 : 200;
      return json({ ...result, requests: store.outgoing }, status);
    } catch (error) {
      if (error instanceof ControlError) {
        return json(
          { ok: false, error: error.message, ...error.extra, requests: store.outgoing },
          error.status,
        );
      }
      return json(
        { ok: false, error: String(error), stack: error?.stack, requests: store.outgoing },
        500,
      );
    }
  });
}

function json(value, status = 200) {
  return new Response(JSON.stringify(value, null, 1), {
    status,
    headers: { "content-type": "application/json" },
  });
}

// ---------------------------------------------------------------------------
// HTTP server

async function readBody(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return Buffer.concat(chunks);
}

async function handle(req, res) {
  const url = new URL(req.url, `http://${req.headers.host ?? `${HOST}:${PORT}`}`);
  const headers = new Headers();
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    headers.append(req.rawHeaders[i], req.rawHeaders[i + 1]);
  }
  const rawBody = req.method === "GET" || req.method === "HEAD" ? null : await readBody(req);
  const request = new Request(url, {
    method: req.method,
    headers,
    body: rawBody,
  });

  let response;
  const isControl = url.pathname.startsWith("/control/");
  const entry = isControl ? null : {
    at: now(),
    method: req.method,
    path: url.pathname + url.search,
    signature_scheme: signatureScheme(headers),
    accept: headers.get("accept"),
    content_type: headers.get("content-type"),
    status: null,
  };
  if (entry) incoming.push(entry);
  try {
    if (isControl) {
      response = await handleControl(request, url);
    } else if (req.method === "GET" && deletedNoteResponse(url) != null) {
      response = deletedNoteResponse(url);
    } else {
      const store = {
        rawBody: rawBody?.toString("utf8") ?? null,
        headers,
        path: url.pathname,
        entry,
      };
      response = await als.run(store, () =>
        federation.fetch(request, {
          contextData: undefined,
          onNotFound: () => new Response("Not Found", { status: 404 }),
          onNotAcceptable: () => new Response("Not Acceptable", { status: 406 }),
        })
      );
    }
  } catch (error) {
    process.stderr.write(`peer.mjs: error handling ${req.method} ${url}: ${error?.stack}\n`);
    response = new Response(String(error), { status: 500 });
  }
  if (entry) entry.status = response.status;
  const out = Buffer.from(await response.arrayBuffer());
  const outHeaders = {};
  for (const [k, v] of response.headers) outHeaders[k] = v;
  res.writeHead(response.status, outHeaders);
  res.end(req.method === "HEAD" ? undefined : out);
}

function deletedNoteResponse(url) {
  const match = /^\/notes\/([^/]+)$/.exec(url.pathname);
  const stored = match ? notes.get(decodeURIComponent(match[1])) : null;
  if (stored == null || !stored.deleted) return null;
  return new Response(
    JSON.stringify({
      "@context": "https://www.w3.org/ns/activitystreams",
      id: stored.note.id.href,
      type: "Tombstone",
      formerType: "Note",
    }),
    { status: 410, headers: { "content-type": "application/activity+json" } },
  );
}

const server = http.createServer((req, res) => {
  handle(req, res).catch((error) => {
    process.stderr.write(`peer.mjs: ${error?.stack ?? error}\n`);
    if (!res.headersSent) res.writeHead(500);
    res.end();
  });
});
server.keepAliveTimeout = 1000;

function shutdown(signal) {
  process.stderr.write(`peer.mjs: ${signal}, shutting down\n`);
  server.close(() => process.exit(0));
  server.closeAllConnections?.();
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on("SIGTERM", () => shutdown("SIGTERM"));
process.on("SIGINT", () => shutdown("SIGINT"));

server.on("error", (error) => {
  process.stderr.write(`peer.mjs: cannot listen on ${HOST}:${PORT}: ${error}\n`);
  process.exit(1);
});
server.listen(PORT, HOST, () => {
  process.stdout.write(`READY ${PORT}\n`);
});
