import { css, html } from "lit";
import { ApiError, api, setCsrf, type Session } from "../shared/api";
import { StudioElement } from "./element";
import { languageLoaded, roleName, startingLanguage, t, useLanguage } from "./i18n";
import { properties } from "./properties";
import { shared } from "./styles";
import "./login";
import "./shows";
import "./products";
import "./team";
import "./language";

type View = "shows" | "products" | "team";

// The studio shell: who is signed in, navigation, and the current view.
export class PasarStudio extends StudioElement {
  static properties = properties([], ["session", "view", "loading"]);
  static styles = [
    shared,
    css`
      header { display: flex; align-items: center; gap: 24px; padding: 14px 28px;
        background: #1d1b18; color: #fff; }
      header .brand { font-weight: 800; letter-spacing: 0.02em; font-size: 20px; }
      header .brand span { color: #f0a63c; }
      nav { display: flex; gap: 6px; flex: 1; }
      nav a { color: #d8d2c6; text-decoration: none; padding: 6px 12px; border-radius: 8px; }
      nav a[aria-current="page"] { background: #3a3631; color: #fff; }
      .who { font-size: 14px; color: #d8d2c6; display: flex; gap: 12px; align-items: center; flex-wrap: wrap; }
      header { flex-wrap: wrap; row-gap: 10px; }
      /* a phone: brand and account on one line, the views under them */
      @media (max-width: 640px) {
        header { padding: 12px 16px; gap: 12px; }
        nav { order: 3; flex-basis: 100%; overflow-x: auto; }
        .who { flex: 1; justify-content: flex-end; }
        .who .name { display: none; }
      }
      main { max-width: 1100px; margin: 28px auto; padding: 0 20px; }
    `,
  ];

  session: Session | null = null;
  view: View = "shows";
  loading = true;

  connectedCallback(): void {
    super.connectedCallback();
    window.addEventListener("hashchange", () => this.route());
    this.route();
    // The catalogue and the session load together: the studio opens in its language.
    void Promise.all([useLanguage(startingLanguage()), this.load()]).then(() => (this.loading = false));
  }

  private route(): void {
    const hash = location.hash;
    this.view = hash.startsWith("#/products") ? "products" : hash.startsWith("#/team") ? "team" : "shows";
  }

  private async load(): Promise<void> {
    try {
      this.session = await api<Session>("GET", "/api/v1/auth/session");
      setCsrf(this.session.csrf_token);
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 401)) console.error(e);
      this.session = null;
    }
  }

  private async logout(): Promise<void> {
    await api("POST", "/api/v1/auth/logout");
    this.session = null;
  }

  render() {
    if (this.loading) return html`<main class="muted">${languageLoaded() ? t("studio.loading") : ""}</main>`;
    if (!this.session) {
      return html`<studio-login
        @signed-in=${(e: CustomEvent<Session>) => {
          this.session = e.detail;
          setCsrf(e.detail.csrf_token);
        }}
      ></studio-login>`;
    }
    const s = this.session;
    const owner = s.scopes.includes("settings:write");
    return html`
      <header>
        <div class="brand">pasar<span>.</span>studio</div>
        <nav>
          <a href="#/shows" aria-current=${this.view === "shows" ? "page" : "false"}>${t("studio.nav.shows")}</a>
          <a href="#/products" aria-current=${this.view === "products" ? "page" : "false"}>${t("studio.nav.products")}</a>
          <a href="#/team" aria-current=${this.view === "team" ? "page" : "false"}>
            ${owner ? t("studio.nav.team") : t("studio.nav.account")}
          </a>
        </nav>
        <div class="who">
          <span class="name">${t("studio.who", { shop: s.vendor.name, name: s.user.display_name, role: roleName(s.user.role) })}</span>
          <studio-language></studio-language>
          <button class="secondary" @click=${() => this.logout()}>${t("studio.sign_out")}</button>
        </div>
      </header>
      <main>${this.renderView(s)}</main>
    `;
  }

  private renderView(s: Session) {
    if (this.view === "products") return html`<studio-products .session=${s}></studio-products>`;
    if (this.view === "team") {
      return html`<studio-team
        .session=${s}
        @session-changed=${(e: CustomEvent<Session>) => (this.session = e.detail)}
        @signed-out=${() => (this.session = null)}
      ></studio-team>`;
    }
    return html`<studio-shows .session=${s}></studio-shows>`;
  }
}
customElements.define("pasar-studio", PasarStudio);
