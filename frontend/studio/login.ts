import { LitElement, css, html } from "lit";
import { ApiError, api, type Session } from "../shared/api";
import { shared } from "./styles";

export class StudioLogin extends LitElement {
  static properties = { error: { state: true }, busy: { state: true } };
  static styles = [
    shared,
    css`
      .wrap { min-height: 100vh; display: grid; place-items: center; padding: 20px; }
      form { width: min(380px, 100%); display: grid; gap: 16px; }
      .brand { font-weight: 800; font-size: 28px; }
      .brand span { color: #f0a63c; }
    `,
  ];
  error = "";
  busy = false;

  private async submit(e: SubmitEvent): Promise<void> {
    e.preventDefault();
    const form = new FormData(e.target as HTMLFormElement);
    this.busy = true;
    this.error = "";
    try {
      const session = await api<Session>("POST", "/api/v1/auth/login", {
        email: String(form.get("email") ?? ""),
        password: String(form.get("password") ?? ""),
      });
      this.dispatchEvent(new CustomEvent("signed-in", { detail: session, bubbles: true, composed: true }));
    } catch (err) {
      this.error = err instanceof ApiError ? err.message : "Cannot reach Pasar. Try again.";
    } finally {
      this.busy = false;
    }
  }

  render() {
    return html`<div class="wrap">
      <form class="card" @submit=${this.submit}>
        <div class="brand">pasar<span>.</span>studio</div>
        <p class="muted">Sign in to run your live shows.</p>
        <label>Email <input name="email" type="email" autocomplete="username" required /></label>
        <label>Password
          <input name="password" type="password" autocomplete="current-password" required />
        </label>
        ${this.error ? html`<div class="error" role="alert">${this.error}</div>` : ""}
        <button type="submit" ?disabled=${this.busy}>${this.busy ? "Signing in…" : "Sign in"}</button>
      </form>
    </div>`;
  }
}
customElements.define("studio-login", StudioLogin);
