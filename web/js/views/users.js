// Lists of accounts: search results, who liked a post. Every UserConnection has this shape.
import { h, pagedList, plural } from "../dom.js";

/** The fields a row of an account shows. */
export const USER_FIELDS = "id username displayName followerCount";

/** One account: the name links to the profile. */
export function userRow(user) {
  return h(
    "div",
    { class: "user-row", "data-user-id": user.id },
    h("a", { href: `#/u/${encodeURIComponent(user.username)}`, class: "author" },
      user.displayName || user.username),
    h("span", { class: "muted" }, ` @${user.username} · ${plural(user.followerCount, "follower")}`),
  );
}

/** Accounts, page after page as the user scrolls. */
export function userList(fetchPage, cleanup, empty) {
  return pagedList(fetchPage, userRow, cleanup, { empty, end: "" });
}
