// The web client's entry point: a hash router (#/, #/login, #/u/rex, #/p/123,
// #/search?q=rex, #/notifications) that renders one view into <main>, and the navigation
// bar. Views live in js/views/; each is
// a function (main, params, cleanup, query) that appends to `main` and registers on
// `cleanup` what must stop when the user navigates away (subscriptions, timers).
import { logOut, session } from "./api.js";
import { Cleanup, h } from "./dom.js";
import { authView } from "./views/auth.js";
import { homeView } from "./views/home.js";
import { notificationsLink, notificationsView } from "./views/notifications.js";
import { postView } from "./views/posts.js";
import { profileView } from "./views/profile.js";
import { searchBox, searchView } from "./views/search.js";

const routes = [
  [/^\/login$/, (main) => authView(main, "login")],
  [/^\/signup$/, (main) => authView(main, "signup")],
  [/^\/u\/([^/]+)$/, profileView],
  [/^\/p\/(\d+)$/, postView],
  [/^\/search$/, searchView],
  [/^\/notifications$/, notificationsView],
  [/^\/?$/, homeView],
];

let cleanup = new Cleanup();

async function render() {
  cleanup.run();
  cleanup = new Cleanup();
  const [path, query] = location.hash.slice(1).split("?");
  renderNav(new URLSearchParams(query).get("q") ?? "");
  const main = h("div", { class: "page" });
  document.getElementById("view").replaceChildren(main);
  for (const [pattern, view] of routes) {
    const match = pattern.exec(path || "/");
    if (!match) continue;
    const params = match.slice(1).map(decodeURIComponent);
    try {
      await view(main, params, cleanup, new URLSearchParams(query));
    } catch (error) {
      main.append(h("p", { class: "error", role: "alert" }, `Something went wrong: ${error.message}`));
    }
    return;
  }
  main.append(h("p", {}, "There is nothing here. ", h("a", { href: "#/" }, "Go home")));
}

function renderNav(searched) {
  const me = session()?.user;
  const notifications = notificationsLink(); // null when logged out
  const links = me
    ? [
        searchBox(searched),
        h("a", { href: "#/" }, "Home"),
        notifications, // with the unread badge, live
        h("a", { href: `#/u/${encodeURIComponent(me.username)}` }, `@${me.username}`),
        h("button", { type: "button", class: "link", onclick: async () => {
          await logOut();
          location.hash = "#/login";
        } }, "Log out"),
      ]
    : [searchBox(searched), h("a", { href: "#/login" }, "Log in"), h("a", { href: "#/signup" }, "Sign up")];
  document.getElementById("nav").replaceChildren(...links);
}

window.addEventListener("hashchange", render);
render();
