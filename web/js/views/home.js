// #/ : the home feed (the people you follow and you, newest first) under a composer.
import { gql, mutate, session } from "../api.js";
import { errorLine, h } from "../dom.js";
import { uploadFile } from "../upload.js";
import { POST_FIELDS, postList } from "./posts.js";

const FEED = `query Feed($after: String) {
  feed(first: 10, after: $after) {
    edges { node { ${POST_FIELDS} } }
    pageInfo { hasNextPage endCursor }
  }
}`;
// One presigned upload per declared file: its type and exact size are part of the policy.
const CREATE_POST = `mutation CreatePost($input: CreatePostInput!) {
  createPost(input: $input) {
    post { ${POST_FIELDS} }
    uploads { mediaId method url fields { name value } headers { name value } }
    errors { code field message }
  }
}`;
const COMPLETE_UPLOAD = `mutation CompleteUpload($id: ID!) {
  completeMediaUpload(mediaId: $id) { media { id status } errors { code message } } }`;

export function homeView(main, params, cleanup) {
  if (!session()) {
    location.hash = "#/login";
    return;
  }
  const feed = postList(
    async (after) => (await gql(FEED, { after })).feed,
    cleanup,
    "Your feed is empty. Write something, or find people to follow.",
  );
  main.append(composer((post) => feed.prepend(post)), feed);
}

/** Write a post, with an image: create it, upload the file to S3, say the upload is done. */
function composer(onPosted) {
  const text = h("textarea", { name: "text", rows: 3, placeholder: "What is your dog up to?" });
  const file = h("input", { type: "file", name: "image", multiple: true, accept: "image/jpeg,image/png,image/webp,image/gif" });
  const progress = h("progress", { max: 1, value: 0, hidden: true });
  const button = h("button", { type: "submit" }, "Post");
  const errors = errorLine();

  async function submit(event) {
    event.preventDefault();
    const files = [...file.files];
    button.disabled = true;
    errors.show(null);
    try {
      const media = files.map((f) => ({ contentType: f.type, byteSize: f.size }));
      const created = await mutate("createPost", CREATE_POST, { input: { text: text.value, media } });
      progress.hidden = files.length === 0;
      for (const [i, upload] of created.uploads.entries()) {
        await uploadFile(upload, files[i], (done) => (progress.value = (i + done) / files.length));
        await mutate("completeMediaUpload", COMPLETE_UPLOAD, { id: upload.mediaId });
      }
      form.reset();
      onPosted(created.post); // its card shows "Processing…" until the image is READY
    } catch (error) {
      errors.show(error);
    } finally {
      button.disabled = false;
      progress.hidden = true;
      progress.value = 0;
    }
  }

  const form = h("form", { class: "composer", onsubmit: submit }, text, h("div", { class: "row" }, file, button), progress, errors);
  return form;
}
