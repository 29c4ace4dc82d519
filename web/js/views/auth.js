// #/login and #/signup. A session is an access token plus a refresh token (api.js keeps it).
import { SESSION, startSession } from "../api.js";
import { errorLine, h } from "../dom.js";

const SIGN_UP = `mutation SignUp($input: SignUpInput!) {
  signUp(input: $input) { ${SESSION} errors { code field message } } }`;
const LOG_IN = `mutation LogIn($input: LogInInput!) {
  logIn(input: $input) { ${SESSION} errors { code field message } } }`;

export function authView(main, mode) {
  const signingUp = mode === "signup";
  const field = (name, label, type = "text", extra = {}) =>
    h("label", {}, label, h("input", { name, type, required: true, ...extra }));
  const errors = errorLine();

  async function submit(event) {
    event.preventDefault();
    const data = Object.fromEntries(new FormData(form));
    button.disabled = true;
    try {
      if (signingUp) await startSession("signUp", SIGN_UP, { input: data });
      else await startSession("logIn", LOG_IN, { input: data });
      location.hash = "#/";
    } catch (error) {
      errors.show(error); // e.g. USERNAME_TAKEN, WEAK_PASSWORD, INVALID_CREDENTIALS
    } finally {
      button.disabled = false;
    }
  }

  const button = h("button", { type: "submit" }, signingUp ? "Sign up" : "Log in");
  const form = h(
    "form",
    { class: "auth", onsubmit: submit },
    h("h1", {}, signingUp ? "Create your account" : "Log in"),
    signingUp
      ? [
          field("username", "Username", "text", { autocomplete: "username" }),
          field("email", "Email", "email", { autocomplete: "email" }),
          field("password", "Password", "password", { autocomplete: "new-password" }),
        ]
      : [
          field("login", "Username or email", "text", { autocomplete: "username" }),
          field("password", "Password", "password", { autocomplete: "current-password" }),
        ],
    button,
    errors,
    signingUp
      ? h("p", {}, "Have an account? ", h("a", { href: "#/login" }, "Log in"))
      : h("p", {}, "New here? ", h("a", { href: "#/signup" }, "Sign up")),
  );
  main.append(form);
}
