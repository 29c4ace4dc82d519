// A post as a card (text, image, live like count), lists of posts with infinite scroll,
// and the page of one post.
import { gql, mutate, session, subscribe } from "../api.js";
import { ago, errorLine, h, pagedList, plural } from "../dom.js";
import { USER_FIELDS, userList } from "./users.js";

/** The fields every post card shows: ask for them wherever posts are listed. */
export const POST_FIELDS = `id text createdAt edited editedAt likeCount viewerHasLiked commentCount
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
const EDIT = `mutation EditPost($input: EditPostInput!) {
  editPost(input: $input) { post { id text edited editedAt } errors { code field message } } }`;
// Who liked the post, newest like first.
const LIKED_BY = `query LikedBy($id: ID!, $after: String) {
  post(id: $id) {
    likedBy(first: 20, after: $after) {
      edges { node { ${USER_FIELDS} } }
      pageInfo { hasNextPage endCursor }
    }
  }
}`;
const POST = `query Post($id: ID!) { post(id: $id) { ${POST_FIELDS} } }`;
const COMMENT_FIELDS = "id text createdAt author { id username }";
const COMMENTS = `query Comments($id: ID!, $after: String) {
  post(id: $id) {
    comments(first: 20, after: $after) {
      edges { node { ${COMMENT_FIELDS} } }
      pageInfo { hasNextPage endCursor }
    }
  }
}`;
const ADD_COMMENT = `mutation AddComment($input: AddCommentInput!) {
  addComment(input: $input) { comment { ${COMMENT_FIELDS} } errors { code field message } } }`;

/** One post; its like count follows everyone's likes live while the card is on screen. */
export function postCard(post, cleanup) {
  const errors = errorLine();
  const card = h(
    "article",
    { class: "post", "data-post-id": post.id },
    byline(post),
    h("p", { class: "text", hidden: !post.text }, post.text),
    post.media.map((media) => mediaView(post.id, media, cleanup)),
    h(
      "footer",
      {},
      likeButton(post, cleanup, errors),
      h("a", { href: `#/p/${post.id}`, class: "muted" }, plural(post.commentCount, "comment")),
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
    post.edited && h("span", { class: "muted edited", title: `edited ${new Date(post.editedAt).toLocaleString()}` }, " · edited"),
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

/** What the author may do with their post: edit its text (editPost), delete it. */
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

  function edit() {
    const text = card().querySelector("p.text");
    const box = h("textarea", { name: "edit", rows: 3 }, post.text);
    async function save(event) {
      event.preventDefault();
      try {
        const payload = await mutate("editPost", EDIT, { input: { id: post.id, text: box.value } });
        Object.assign(post, payload.post);
        text.textContent = post.text;
        text.hidden = !post.text;
        card().querySelector("header").replaceWith(byline(post)); // shows "edited"
        form.replaceWith(text);
        errors.show(null);
      } catch (error) {
        errors.show(error); // e.g. "text: ..." for empty or too long text
      }
    }
    const cancel = () => {
      form.replaceWith(text);
      errors.show(null);
    };
    const form = h(
      "form",
      { class: "edit", onsubmit: save },
      box,
      h("button", { type: "submit" }, "Save"),
      h("button", { type: "button", class: "link", onclick: cancel }, "Cancel"),
    );
    text.replaceWith(form);
    box.focus();
  }

  return [
    h("button", { type: "button", class: "link", onclick: edit }, "Edit"),
    h("button", { type: "button", class: "link", onclick: remove }, "Delete"),
  ];
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

/** Posts, page after page as the user scrolls (the home feed, a profile, search). */
export function postList(fetchPage, cleanup, empty) {
  return pagedList(fetchPage, (post) => postCard(post, cleanup), cleanup, {
    empty,
    end: "You are all caught up.",
  });
}

/** #/p/<id>: one post, who liked it, its comments, and a box to add one. */
export async function postView(main, [id], cleanup) {
  const { post } = await gql(POST, { id });
  if (!post) return main.append(h("p", {}, "This post does not exist (any more)."));
  const comments = pagedList(
    async (after) => (await gql(COMMENTS, { id, after })).post.comments,
    commentView,
    cleanup,
    { empty: "No comments yet." },
  );
  const likers = userList(
    async (after) => (await gql(LIKED_BY, { id, after })).post.likedBy,
    cleanup,
    "Nobody yet.",
  );
  main.append(
    postCard(post, cleanup),
    h("details", { class: "liked-by", open: true }, h("summary", {}, "Liked by"), likers),
    h("h2", {}, "Comments"),
    commentBox(id, comments),
    comments,
  );
}

function commentView(comment) {
  const who = comment.author;
  return h(
    "div",
    { class: "comment", "data-comment-id": comment.id },
    who && h("a", { href: `#/u/${encodeURIComponent(who.username)}`, class: "author" }, who.username),
    h("span", { class: "muted" }, ` · ${ago(comment.createdAt)}`),
    h("p", { class: "text" }, comment.text),
  );
}

function commentBox(postId, comments) {
  const text = h("textarea", { name: "comment", rows: 2, placeholder: "Say something nice" });
  const errors = errorLine();
  async function submit(event) {
    event.preventDefault();
    try {
      const { comment } = await mutate("addComment", ADD_COMMENT, { input: { postId, text: text.value } });
      comments.prepend(comment);
      form.reset();
      errors.show(null);
    } catch (error) {
      errors.show(error);
    }
  }
  const form = h("form", { class: "comment-box", onsubmit: submit }, text, h("button", { type: "submit" }, "Comment"), errors);
  return session() ? form : h("p", {}, h("a", { href: "#/login" }, "Log in"), " to comment.");
}
