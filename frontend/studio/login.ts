import { css, html } from "lit";
import { ApiError, api, type Session } from "../shared/api";
import { staffMessage } from "../shared/errors";
import { StudioElement } from "./element";
import { duration, t } from "./i18n";
import "./language";
import { properties } from "./properties";
import { shared } from "./styles";

export class StudioLogin extends StudioElement {
  static properties = properties([], ["error", "busy", "wait", "shops"]);
  static styles = [
    shared,
    css`
      .wrap { min-height: 100vh; display: grid; place-items: center; padding: 20px; }
      form { width: min(380px, 100%); box-sizing: border-box; display: grid; gap: 16px; }
      .brand { font-weight: 800; font-size: 28px; }
      .brand span { color: #f0a63c; }
      .top { display: flex; align-items: center; gap: 12px; flex-wrap: wrap; justify-content: space-between; }
    `,
  ];
  error = "";
  busy = false;
  // Seconds until the server takes another attempt (after a 429), counted down.
  wait = 0;
  // Set when the same email and password open several shops: the user picks one.
  shops: { slug: string; name: string }[] = [];
  private timer: number | undefined;

  disconnectedCallback(): void {
    super.disconnectedCallback();
    window.clearInterval(this.timer);
  }

  // The hold may be for one account only (from this address): another may try.
  private otherEmail(): void {
    this.shops = [];
    if (this.wait <= 0) return;
    this.wait = 0;
    this.error = "";
    window.clearInterval(this.timer);
  }

  private holdOff(seconds: number): void {
    this.wait = seconds;
    window.clearInterval(this.timer);
    this.timer = window.setInterval(() => {
      this.wait -= 1;
      if (this.wait <= 0) {
        this.wait = 0;
        window.clearInterval(this.timer);
        this.error = "";
      }
    }, 1000);
  }

  private async submit(e: SubmitEvent): Promise<void> {
    e.preventDefault();
    const form = new FormData(e.target as HTMLFormElement);
    this.busy = true;
    this.error = "";
    try {
      const vendor = form.get("vendor");
      const session = await api<Session>("POST", "/api/v1/auth/login", {
        email: String(form.get("email") ?? ""),
        password: String(form.get("password") ?? ""),
        ...(vendor ? { vendor: String(vendor) } : {}),
      });
      this.dispatchEvent(new CustomEvent("signed-in", { detail: session, bubbles: true, composed: true }));
    } catch (err) {
      this.error = staffMessage(err);
      if (err instanceof ApiError && err.code === "choose_vendor") {
        this.shops = (err.details as { vendors: { slug: string; name: string }[] }).vendors;
        this.error = "";
      }
      if (err instanceof ApiError && err.status === 429 && err.retryAfter) this.holdOff(err.retryAfter);
    } finally {
      this.busy = false;
    }
  }

  render() {
    return html`<div class="wrap">
      <form class="card" @submit=${this.submit}>
        <div class="top"><div class="brand">pasar<span>.</span>studio</div><studio-language></studio-language></div>
        <p class="muted">${t("studio.login.intro")}</p>
        <label>${t("studio.field.email")}
          <input name="email" type="email" autocomplete="username" required @input=${this.otherEmail} />
        </label>
        <label>${t("studio.login.password")}
          <input name="password" type="password" autocomplete="current-password" required />
        </label>
        ${this.shops.length
          ? html`<p class="muted">${t("studio.login.choose_shop")}</p>
            <label>${t("studio.login.shop")}
              <select name="vendor">
                ${this.shops.map((v) => html`<option value=${v.slug}>${v.name}</option>`)}
              </select>
            </label>`
          : ""}
        ${this.error ? html`<div class="error" role="alert">${this.error}</div>` : ""}
        <button type="submit" ?disabled=${this.busy || this.wait > 0}>
          ${this.busy
            ? t("studio.login.signing_in")
            : this.wait > 0
              ? t("studio.login.try_again_in", { time: duration(this.wait) })
              : t("studio.login.sign_in")}
        </button>
      </form>
    </div>`;
  }
}
customElements.define("studio-login", StudioLogin);
