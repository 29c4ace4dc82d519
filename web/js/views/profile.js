// #/u/<username>: a profile, the follow button, the account's posts.
import { gql, mutate, session } from "../api.js";
import { errorLine, h } from "../dom.js";
import { POST_FIELDS, postList } from "./posts.js";

const PROFILE = `query Profile($username: String!) {
  userByUsername(username: $username) {
    id username displayName bio followerCount followingCount viewerFollows
  }
}`;
const POSTS = `query UserPosts($id: ID!, $after: String) {
  user(id: $id) {
    posts(first: 10, after: $after) {
      edges { node { ${POST_FIELDS} } }
      pageInfo { hasNextPage endCursor }
    }
  }
}`;
const FOLLOW = `mutation Follow($id: ID!) {
  follow(userId: $id) { user { id followerCount viewerFollows } } }`;
const UNFOLLOW = `mutation Unfollow($id: ID!) {
  unfollow(userId: $id) { user { id followerCount viewerFollows } } }`;

export async function profileView(main, [username], cleanup) {
  const { userByUsername: user } = await gql(PROFILE, { username });
  if (!user) return main.append(h("p", {}, `There is no @${username}.`));

  const followers = h("span", { class: "followers" }, String(user.followerCount));
  const errors = errorLine();
  const me = session()?.user.id === user.id;
  const follow = h("button", { type: "button", class: "follow", onclick: toggleFollow });
  const showFollow = () => (follow.textContent = user.viewerFollows ? "Unfollow" : "Follow");
  showFollow();

  async function toggleFollow() {
    if (!session()) {
      location.hash = "#/login";
      return;
    }
    follow.disabled = true;
    try {
      const field = user.viewerFollows ? "unfollow" : "follow";
      const payload = await mutate(field, user.viewerFollows ? UNFOLLOW : FOLLOW, { id: user.id });
      Object.assign(user, payload.user);
      followers.textContent = user.followerCount;
      showFollow();
      errors.show(null);
    } catch (error) {
      errors.show(error);
    } finally {
      follow.disabled = false;
    }
  }

  main.append(
    h(
      "section",
      { class: "profile" },
      h("h1", {}, user.displayName || user.username, " ", h("span", { class: "muted" }, `@${user.username}`)),
      user.bio && h("p", {}, user.bio),
      h("p", {}, followers, " followers · ", String(user.followingCount), " following"),
      !me && follow,
      errors,
    ),
    postList(
      async (after) => (await gql(POSTS, { id: user.id, after })).user.posts,
      cleanup,
      "No posts yet.",
    ),
  );
}
