// The Puppies API, as a browser sees it: one GraphQL endpoint on this origin.
// - queries and mutations: POST /graphql with a JSON body (GraphQL over HTTP);
// - subscriptions: WebSocket on /graphql with the graphql-transport-ws protocol
//   (graphql-ws' client; browsers cannot set headers on a WebSocket, so the access token
//   travels in the connection_init payload);
// - the session: an access token (short-lived, sent as Authorization: Bearer) and a
//   refresh token that refreshSession trades for a new pair before the access token ends.
import { createClient } from "../vendor/graphql-ws/client.js";

const ENDPOINT = "/graphql";
const STORED = "puppies.session";

/** A GraphQL error (errors[] of the response), or a user error of a mutation payload. */
export class ApiError extends Error {
  constructor(errors) {
    super(errors.map((e) => (e.field ? `${e.field}: ${e.message}` : e.message)).join("; "));
    this.errors = errors;
    this.code = errors[0]?.extensions?.code ?? errors[0]?.code;
  }
}

// ---- the session ------------------------------------------------------------------

export function session() {
  return JSON.parse(localStorage.getItem(STORED) || "null");
}

export function saveSession(value) {
  const before = session()?.user.id;
  if (value) localStorage.setItem(STORED, JSON.stringify(value));
  else localStorage.removeItem(STORED);
  // The WebSocket is authenticated as the viewer it was opened for: another viewer (log
  // in, log out) needs a new one. A refreshed token for the same viewer does not; a
  // reconnect sends the fresh one.
  if (value?.user.id !== before) resetSubscriptions();
}

/** What every mutation that starts a session (signUp, logIn, resetPassword) asks for. */
export const SESSION = "session { accessToken refreshToken accessTokenExpiresAt user { id username } }";
let refreshing = null;

/** The access token to send, refreshed first when it expires within 30 seconds. */
async function accessToken() {
  const current = session();
  if (!current) return null;
  if (new Date(current.accessTokenExpiresAt).getTime() - Date.now() > 30_000) {
    return current.accessToken;
  }
  refreshing ??= post(
    `mutation Refresh($t: String!) { refreshSession(refreshToken: $t) { ${SESSION} errors { code message } } }`,
    { t: current.refreshToken },
    null,
  ).finally(() => (refreshing = null));
  const { refreshSession } = await refreshing;
  saveSession(refreshSession.session); // null when the refresh token was revoked: logged out
  return refreshSession.session?.accessToken ?? null;
}

// ---- queries and mutations ----------------------------------------------------------

async function post(query, variables, token) {
  const headers = { "content-type": "application/json", accept: "application/graphql-response+json" };
  if (token) headers.authorization = `Bearer ${token}`;
  const response = await fetch(ENDPOINT, {
    method: "POST",
    headers,
    body: JSON.stringify({ query, variables }),
  });
  const body = await response.json();
  if (body.errors?.length) throw new ApiError(body.errors);
  return body.data;
}

/** Run a query or mutation as the current viewer; resolves to `data`. */
export async function gql(query, variables = {}) {
  try {
    return await post(query, variables, await accessToken());
  } catch (error) {
    if (error.code === "UNAUTHENTICATED" && session()) {
      saveSession(null); // the session ended elsewhere (logged out, password changed)
      location.hash = "#/login";
    }
    throw error;
  }
}

/**
 * Run a mutation whose payload has `errors: [UserError]` and return the payload: user
 * errors (a taken username, a wrong password) are thrown as an ApiError, like the rest.
 */
export async function mutate(field, query, variables) {
  const payload = (await gql(query, variables))[field];
  if (payload?.errors?.length) throw new ApiError(payload.errors);
  return payload;
}

/** Run a mutation that answers with a new session, and keep the session. */
export async function startSession(field, query, variables) {
  const payload = await mutate(field, query, variables);
  saveSession(payload.session);
  return payload.session.user;
}

export async function logOut() {
  const current = session();
  saveSession(null);
  if (current) {
    await post("mutation($t: String!) { logOut(refreshToken: $t) }", { t: current.refreshToken }, null);
  }
}

// ---- subscriptions --------------------------------------------------------------------

let socket = null;

function client() {
  socket ??= createClient({
    url: new URL(ENDPOINT, location.href).href.replace(/^http/, "ws"),
    lazy: true, // connect on the first subscription, close after the last
    connectionParams: async () => {
      const token = await accessToken();
      return token ? { Authorization: `Bearer ${token}` } : {};
    },
    retryAttempts: 1_000_000, // a router restart: reconnect and resubscribe
    shouldRetry: () => true,
  });
  return socket;
}

function resetSubscriptions() {
  socket?.dispose();
  socket = null;
}

/** Subscribe; onData(data) for every event. Returns the function that unsubscribes. */
export function subscribe(query, variables, onData) {
  return client().subscribe(
    { query, variables },
    {
      next: ({ data, errors }) => (errors ? console.warn("subscription error", errors) : onData(data)),
      error: (error) => console.warn("subscription failed", error),
      complete: () => {},
    },
  );
}
