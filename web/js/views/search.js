// #/search?q=... : people (searchUsers: username or display-name prefix) and posts
// (searchPosts: PostgreSQL full-text search, "quoted phrases", or, -word), each paged.
import { gql } from "../api.js";
import { h } from "../dom.js";
import { POST_FIELDS, postList } from "./posts.js";
import { USER_FIELDS, userList } from "./users.js";

const PEOPLE = `query SearchUsers($q: String!, $after: String) {
  searchUsers(query: $q, first: 5, after: $after) {
    edges { node { ${USER_FIELDS} } }
    pageInfo { hasNextPage endCursor }
  }
}`;
const POSTS = `query SearchPosts($q: String!, $after: String) {
  searchPosts(query: $q, first: 10, after: $after) {
    edges { node { ${POST_FIELDS} } }
    pageInfo { hasNextPage endCursor }
  }
}`;

/** The search box of the navigation bar: it opens #/search?q=... */
export function searchBox(value = "") {
  const input = h("input", { type: "search", name: "q", value, placeholder: "Search", "aria-label": "Search" });
  const submit = (event) => {
    event.preventDefault();
    const q = input.value.trim();
    if (q) location.hash = `#/search?${new URLSearchParams({ q })}`;
  };
  return h("form", { class: "search", role: "search", onsubmit: submit }, input);
}

export function searchView(main, params, cleanup, query) {
  const q = (query.get("q") || "").trim();
  if (!q) return main.append(h("p", {}, "Type what you are looking for in the search box."));
  main.append(
    h("h1", {}, "Search: ", h("q", {}, q)),
    h("h2", {}, "People"),
    userList(async (after) => (await gql(PEOPLE, { q, after })).searchUsers, cleanup, "Nobody by that name."),
    h("h2", {}, "Posts"),
    postList(async (after) => (await gql(POSTS, { q, after })).searchPosts, cleanup, "No post says that."),
  );
}
