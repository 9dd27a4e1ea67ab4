import { LitElement, css, html } from "lit";
import { ApiError, api, setCsrf, type Session } from "../shared/api";
import { properties } from "./properties";
import { shared } from "./styles";
import "./login";
import "./shows";
import "./products";
import "./team";

type View = "shows" | "products" | "team";

// The studio shell: who is signed in, navigation, and the current view.
export class PasarStudio extends LitElement {
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
      .who { font-size: 14px; color: #d8d2c6; display: flex; gap: 12px; align-items: center; }
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
    void this.load();
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
    this.loading = false;
  }

  private async logout(): Promise<void> {
    await api("POST", "/api/v1/auth/logout");
    this.session = null;
  }

  render() {
    if (this.loading) return html`<main class="muted">Loading…</main>`;
    if (!this.session) {
      return html`<studio-login
        @signed-in=${(e: CustomEvent<Session>) => {
          this.session = e.detail;
          setCsrf(e.detail.csrf_token);
        }}
      ></studio-login>`;
    }
    const s = this.session;
    return html`
      <header>
        <div class="brand">pasar<span>.</span>studio</div>
        <nav>
          <a href="#/shows" aria-current=${this.view === "shows" ? "page" : "false"}>Shows</a>
          <a href="#/products" aria-current=${this.view === "products" ? "page" : "false"}>Products</a>
          <a href="#/team" aria-current=${this.view === "team" ? "page" : "false"}>
            ${s.scopes.includes("settings:write") ? "Team" : "Account"}
          </a>
        </nav>
        <div class="who">
          <span>${s.vendor.name} · ${s.user.display_name} (${s.user.role})</span>
          <button class="secondary" @click=${() => this.logout()}>Sign out</button>
        </div>
      </header>
      <main>
        ${this.view === "products"
          ? html`<studio-products .session=${s}></studio-products>`
          : this.view === "team"
            ? html`<studio-team
                .session=${s}
                @session-changed=${(e: CustomEvent<Session>) => (this.session = e.detail)}
                @signed-out=${() => (this.session = null)}
              ></studio-team>`
            : html`<studio-shows .session=${s}></studio-shows>`}
      </main>
    `;
  }
}
customElements.define("pasar-studio", PasarStudio);
