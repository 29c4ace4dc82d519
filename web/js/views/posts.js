// A post as a card (text, image, live like count), lists of posts with infinite scroll,
// and the page of one post.
import { gql, mutate, session, subscribe } from "../api.js";
import { ago, errorLine, h, plural, whenVisible } from "../dom.js";

/** The fields every post card shows: ask for them wherever posts are listed. */
export const POST_FIELDS = `id text createdAt likeCount viewerHasLiked commentCount
  author { id username displayName }
  media { id status failureReason thumbnails { width url } }`;

const LIKE = `mutation Like($id: ID!) {
  likePost(postId: $id) { post { id likeCount viewerHasLiked } errors { code message } } }`;
const UNLIKE = `mutation Unlike($id: ID!) {
  unlikePost(postId: $id) { post { id likeCount viewerHasLiked } errors { code message } } }`;
// Every like and unlike of the post, by anyone, as it commits.
const LIKES = `subscription Likes($id: ID!) {
  postLikeChanged(postId: $id) { likeCount liked userId } }`;
const MEDIA = `query Media($id: ID!) {
  post(id: $id) { id media { id status failureReason thumbnails { width url } } } }`;
const DELETE = `mutation DeletePost($id: ID!) {
  deletePost(id: $id) { deletedPostId errors { code message } } }`;
const POST = `query Post($id: ID!) { post(id: $id) { ${POST_FIELDS} } }`;

/** One post; its like count follows everyone's likes live while the card is on screen. */
export function postCard(post, cleanup) {
  const errors = errorLine();
  const card = h(
    "article",
    { class: "post", "data-post-id": post.id },
    byline(post),
    post.text && h("p", { class: "text" }, post.text),
    post.media.map((media) => mediaView(post.id, media, cleanup)),
    h(
      "footer",
      {},
      likeButton(post, cleanup, errors),
      h("span", { class: "muted" }, plural(post.commentCount, "comment")),
      post.author && post.author.id === session()?.user.id && ownerActions(post, () => card, errors),
    ),
    errors,
  );
  return card;
}

function byline(post) {
  const author = post.author; // null when the users subgraph could not answer for it
  return h(
    "header",
    {},
    author
      ? [
          h("a", { href: `#/u/${encodeURIComponent(author.username)}`, class: "author" },
            author.displayName || author.username),
          h("span", { class: "muted" }, ` @${author.username} · `),
        ]
      : h("span", { class: "muted" }, "someone · "),
    h("a", { href: `#/p/${post.id}`, class: "muted" }, ago(post.createdAt)),
  );
}

/** ♥ and the count: likePost / unlikePost, and postLikeChanged for everyone else's. */
function likeButton(post, cleanup, errors) {
  const count = h("span", { class: "like-count" }, String(post.likeCount));
  let liked = post.viewerHasLiked;
  const button = h("button", { class: "like", type: "button", onclick: toggle }, "♥ ", count);
  const showLiked = () => button.setAttribute("aria-pressed", String(liked));
  showLiked();

  async function toggle() {
    if (!session()) {
      location.hash = "#/login";
      return;
    }
    button.disabled = true;
    try {
      const field = liked ? "unlikePost" : "likePost";
      const payload = await mutate(field, liked ? UNLIKE : LIKE, { id: post.id });
      liked = payload.post.viewerHasLiked;
      count.textContent = payload.post.likeCount;
      showLiked();
      errors.show(null);
    } catch (error) {
      errors.show(error);
    } finally {
      button.disabled = false;
    }
  }

  cleanup.push(
    subscribe(LIKES, { id: post.id }, ({ postLikeChanged: event }) => {
      count.textContent = event.likeCount;
      if (event.userId === session()?.user.id) {
        liked = event.liked; // this viewer, in another tab
        showLiked();
      }
    }),
  );
  return button;
}

/** What the author may do with their post. */
function ownerActions(post, card, errors) {
  async function remove() {
    if (!confirm("Delete this post? It disappears from every feed.")) return;
    try {
      await mutate("deletePost", DELETE, { id: post.id });
      card().remove();
    } catch (error) {
      errors.show(error);
    }
  }
  return h("button", { type: "button", class: "link", onclick: remove }, "Delete");
}

/** An image: its thumbnail when READY; until then a placeholder that asks again. */
function mediaView(postId, media, cleanup) {
  const box = h("div", { class: "media", "data-media-status": media.status });
  const show = (m) => {
    box.dataset.mediaStatus = m.status;
    if (m.status === "READY") {
      const thumb = m.thumbnails.find((t) => t.width >= 320) ?? m.thumbnails[0];
      box.replaceChildren(h("img", { src: thumb.url, alt: "", loading: "lazy" }));
    } else if (m.status === "FAILED") {
      box.replaceChildren(h("p", { class: "error" }, `This image could not be used: ${m.failureReason}`));
    } else {
      box.replaceChildren(h("p", { class: "muted" }, "Processing the image…"));
    }
  };
  show(media);
  if (media.status === "PENDING_UPLOAD" || media.status === "PROCESSING") {
    const timer = setInterval(async () => {
      const { post } = await gql(MEDIA, { id: postId });
      const now = post?.media.find((m) => m.id === media.id);
      if (!now) return clearInterval(timer);
      show(now);
      if (now.status === "READY" || now.status === "FAILED") clearInterval(timer);
    }, 1000);
    cleanup.push(() => clearInterval(timer));
  }
  return box;
}

/**
 * Posts, page after page as the user scrolls. fetchPage(after) resolves to a connection
 * ({edges: [{node}], pageInfo: {hasNextPage, endCursor}}).
 */
export function postList(fetchPage, cleanup, emptyText) {
  const list = h("div", { class: "posts" });
  const status = h("p", { class: "muted sentinel" }, "Loading…");
  const seen = new Set(); // a post prepended by the composer may come again in a page
  let after = null;
  let finished = false;
  whenVisible(
    status,
    async () => {
      try {
        const page = await fetchPage(after);
        for (const { node } of page.edges) {
          if (node && !seen.has(node.id)) {
            seen.add(node.id);
            list.append(postCard(node, cleanup));
          }
        }
        after = page.pageInfo.endCursor;
        if (page.pageInfo.hasNextPage) return true;
        finished = true;
        status.textContent = seen.size ? "You are all caught up." : emptyText;
        return false;
      } catch (error) {
        status.textContent = `Could not load posts: ${error.message}`;
        status.className = "error";
        return false;
      }
    },
    cleanup,
  );
  const section = h("section", {}, list, status);
  section.prependPost = (post) => {
    seen.add(post.id);
    list.prepend(postCard(post, cleanup));
    if (finished) status.textContent = "You are all caught up.";
  };
  return section;
}

/** #/p/<id>: one post. */
export async function postView(main, [id], cleanup) {
  const { post } = await gql(POST, { id });
  if (!post) return main.append(h("p", {}, "This post does not exist (any more)."));
  main.append(postCard(post, cleanup));
}
