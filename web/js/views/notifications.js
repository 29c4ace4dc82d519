// #/notifications, and the unread badge of the navigation bar.
// - the list: notifications(first, after) pages newest first; unreadCount counts them all;
// - markNotificationsRead(upTo: <newest shown>) marks what the user has seen (those that
//   arrive meanwhile stay unread);
// - notificationAdded streams each new one over the WebSocket while the app is open: the
//   badge asks for the count again, an open list puts it on top.
import { gql, mutate, session, subscribe } from "../api.js";
import { ago, errorLine, h, pagedList } from "../dom.js";

const FIELDS = `id kind read createdAt
  actor { id username displayName }
  post { id text }
  comment { id text }`;
const LIST = `query Notifications($after: String) {
  notifications(first: 20, after: $after) {
    edges { node { ${FIELDS} } }
    pageInfo { hasNextPage endCursor }
    unreadCount
  }
}`;
const UNREAD = "query Unread { notifications(first: 1) { unreadCount } }";
const ADDED = `subscription Notified { notificationAdded { ${FIELDS} } }`;
const MARK_READ = `mutation MarkRead($upTo: ID) {
  markNotificationsRead(upTo: $upTo) { marked unreadCount } }`;

const WHAT = {
  FOLLOW: "followed you",
  LIKE: "liked your post",
  COMMENT: "commented on your post",
  REPLY: "replied to your comment",
};

// ---- the badge: one per page load, following the logged-in viewer ----------------------

const badge = h("span", { class: "badge", hidden: true, "aria-label": "unread notifications" });
const listeners = new Set(); // open lists, told about each new notification
let watching = null; // {userId, stop}

function showUnread(count) {
  badge.textContent = String(count);
  badge.hidden = count === 0;
}

async function refreshUnread() {
  try {
    if (session()) showUnread((await gql(UNREAD)).notifications.unreadCount);
  } catch (error) {
    console.warn("could not count unread notifications", error); // the next event retries
  }
}

/** The link to #/notifications with the unread badge, kept live for the logged-in viewer
 * (null, and nothing watched, when logged out). */
export function notificationsLink() {
  const me = session()?.user.id;
  if (watching?.userId !== me) {
    watching?.stop();
    watching = null;
    showUnread(0);
    if (me) {
      const stop = subscribe(ADDED, {}, ({ notificationAdded }) => {
        refreshUnread();
        for (const listener of listeners) listener(notificationAdded);
      });
      watching = { userId: me, stop };
      refreshUnread();
    }
  }
  return me ? h("a", { href: "#/notifications", class: "notifications" }, "Notifications ", badge) : null;
}

// ---- the list -------------------------------------------------------------------------

function notificationView(n) {
  const who = n.actor;
  const target = (n.comment?.text || n.post?.text || "the post").slice(0, 80);
  return h(
    "div",
    { class: n.read ? "notification" : "notification unread", "data-notification-id": n.id, "data-kind": n.kind },
    who
      ? h("a", { href: `#/u/${encodeURIComponent(who.username)}`, class: "author" }, who.displayName || who.username)
      : h("span", {}, "Someone"),
    ` ${WHAT[n.kind]}`,
    n.post && [": ", h("a", { href: `#/p/${n.post.id}` }, target)],
    h("span", { class: "muted" }, ` · ${ago(n.createdAt)}`),
  );
}

export function notificationsView(main, params, cleanup) {
  if (!session()) {
    location.hash = "#/login";
    return;
  }
  let newest = null; // the newest notification shown: what "mark all read" covers
  const errors = errorLine();
  const list = pagedList(
    async (after) => {
      const page = (await gql(LIST, { after })).notifications;
      newest ??= page.edges[0]?.node.id ?? null;
      showUnread(page.unreadCount);
      return page;
    },
    notificationView,
    cleanup,
    { empty: "Nothing yet. When someone follows you, likes or comments, it shows here.", end: "" },
  );
  const onAdded = (n) => {
    if (newest === null || BigInt(n.id) > BigInt(newest)) newest = n.id;
    list.prepend(n);
  };
  listeners.add(onAdded);
  cleanup.push(() => listeners.delete(onAdded));

  async function markAllRead() {
    try {
      const payload = await mutate("markNotificationsRead", MARK_READ, { upTo: newest });
      showUnread(payload.unreadCount);
      for (const item of list.querySelectorAll(".notification.unread")) {
        if (BigInt(item.dataset.notificationId) <= BigInt(newest)) item.classList.remove("unread");
      }
      errors.show(null);
    } catch (error) {
      errors.show(error);
    }
  }

  main.append(
    h("h1", {}, "Notifications"),
    h("p", {}, h("button", { type: "button", class: "mark-read", onclick: markAllRead }, "Mark all as read")),
    errors,
    list,
  );
}
