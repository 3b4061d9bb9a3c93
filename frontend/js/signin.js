// The sign-in page: shown for ?page=sign-in, and in place of any page the API refuses to
// show without a sign-in (the address stays, so the page opens once signed in).
import { signIn } from "./account.js";
import { el } from "./dom.js";

function reasonText(error) {
  if (error.status === 401) return "Wrong user name or password.";
  if (error.status === 429) return `${error.detail}.`;
  if (error.backendDown) return `The API is not answering (${error.message}). Try again shortly.`;
  return `The API refused the sign-in: ${error.message}`;
}

export function signInView(app, notice = "") {
  const user = el("input", { id: "sign-in-user", name: "username", autocomplete: "username",
    required: true, maxlength: 64, autocapitalize: "none", spellcheck: "false" });
  const password = el("input", { id: "sign-in-password", name: "password", type: "password",
    autocomplete: "current-password", required: true, maxlength: 1024 });
  const submit = el("button", { type: "submit", class: "primary" }, "Sign in");
  const problem = el("p", { class: "form-error", id: "sign-in-error", role: "alert" });

  const form = el("form", { class: "panel sign-in", "aria-labelledby": "sign-in-title",
    onsubmit: async (event) => {
      event.preventDefault();
      submit.disabled = true;
      submit.textContent = "Signing in…";
      problem.textContent = "";
      try {
        await signIn(user.value, password.value);
        app.signedIn();
      } catch (error) {
        problem.textContent = reasonText(error);
        password.value = "";
        password.focus();
      } finally {
        submit.disabled = false;
        submit.textContent = "Sign in";
      }
    } },
    el("h1", { id: "sign-in-title" }, "Sign in to hostpulse"),
    notice ? el("p", { class: "notice", id: "sign-in-notice" }, notice) : null,
    el("label", { for: "sign-in-user" }, "User name"), user,
    el("label", { for: "sign-in-password" }, "Password"), password,
    submit, problem);

  return {
    element: form,
    title: "Sign in",
    start() {
      user.focus();
    },
    stop() {},
  };
}
