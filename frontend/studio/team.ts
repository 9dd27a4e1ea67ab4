import { css, html } from "lit";
import { api, setCsrf, type Session } from "../shared/api";
import { staffMessage } from "../shared/errors";
import { StudioElement } from "./element";
import { roleName, t } from "./i18n";
import { properties } from "./properties";
import { shared } from "./styles";

interface StaffUser {
  id: string;
  email: string;
  display_name: string;
  role: string;
  disabled_at: string | null;
}

// Your own password and sessions; for owners, the shop's staff as well.
export class StudioTeam extends StudioElement {
  static properties = properties(["session"], ["staff", "error", "notice", "passwordError", "passwordNotice"]);
  static styles = [
    shared,
    css`
      section { margin-bottom: 24px; }
      form.password { display: grid; gap: 12px; max-width: 380px; }
      form.add { display: grid; grid-template-columns: 2fr 2fr 1fr 2fr auto; gap: 8px;
        align-items: end; margin-top: 16px; }
      .actions { display: flex; gap: 8px; justify-content: flex-end; }
      .pill.disabled { background: #b3261e; color: #fff; }
      .ok { color: #2e7d32; font-size: 14px; }
      .scroll { overflow-x: auto; }
      td.role, .actions button { white-space: nowrap; }
      /* a phone: the add form stacks, the table scrolls inside its card */
      @media (max-width: 640px) {
        form.add { grid-template-columns: 1fr; }
        .actions { flex-wrap: wrap; justify-content: flex-start; }
      }
    `,
  ];
  session!: Session;
  staff: StaffUser[] = [];
  error = "";
  notice = "";
  passwordError = "";
  passwordNotice = "";

  private get owner(): boolean {
    return this.session.scopes.includes("settings:write");
  }

  connectedCallback(): void {
    super.connectedCallback();
    if (this.owner) void this.load();
  }

  private async load(): Promise<void> {
    try {
      this.staff = await api<StaffUser[]>("GET", "/api/v1/staff");
    } catch (e) {
      this.error = staffMessage(e);
    }
  }

  private async changePassword(e: SubmitEvent): Promise<void> {
    e.preventDefault();
    const form = e.target as HTMLFormElement;
    const data = new FormData(form);
    this.passwordError = this.passwordNotice = "";
    if (data.get("new_password") !== data.get("repeat")) {
      this.passwordError = t("studio.team.passwords_differ");
      return;
    }
    try {
      const session = await api<Session>("PUT", "/api/v1/auth/password", {
        current_password: String(data.get("current_password") ?? ""),
        new_password: String(data.get("new_password") ?? ""),
      });
      setCsrf(session.csrf_token);
      this.dispatchEvent(new CustomEvent("session-changed", { detail: session, bubbles: true, composed: true }));
      form.reset();
      this.passwordNotice = t("studio.team.password_changed");
    } catch (err) {
      this.passwordError = staffMessage(err);
    }
  }

  private async signOutEverywhere(): Promise<void> {
    try {
      await api("DELETE", "/api/v1/auth/sessions");
      this.dispatchEvent(new CustomEvent("signed-out", { bubbles: true, composed: true }));
    } catch (err) {
      this.passwordError = staffMessage(err);
    }
  }

  private async act(user: StaffUser, what: "disable" | "enable" | "remove" | "sign-out"): Promise<void> {
    this.error = this.notice = "";
    const email = user.email;
    if (what === "remove" && !confirm(t("studio.team.confirm_remove", { email, shop: this.session.vendor.name }))) return;
    try {
      if (what === "remove") await api("DELETE", `/api/v1/staff/${user.id}`);
      else if (what === "sign-out") await api("DELETE", `/api/v1/staff/${user.id}/sessions`);
      else await api("POST", `/api/v1/staff/${user.id}/${what}`);
      this.notice = {
        disable: () => t("studio.team.disabled_notice", { email }),
        enable: () => t("studio.team.enabled_notice", { email }),
        remove: () => t("studio.team.removed_notice", { email }),
        "sign-out": () => t("studio.team.signed_out_notice", { email }),
      }[what]();
      if (user.id === this.session.user.id && what !== "enable") {
        this.dispatchEvent(new CustomEvent("signed-out", { bubbles: true, composed: true }));
        return;
      }
      await this.load();
    } catch (err) {
      this.error = staffMessage(err);
    }
  }

  private async add(e: SubmitEvent): Promise<void> {
    e.preventDefault();
    const form = e.target as HTMLFormElement;
    const data = new FormData(form);
    this.error = this.notice = "";
    try {
      const user = await api<StaffUser>("POST", "/api/v1/staff", {
        email: String(data.get("email") ?? ""),
        display_name: String(data.get("display_name") ?? ""),
        role: String(data.get("role") ?? "host"),
        password: String(data.get("password") ?? ""),
      });
      form.reset();
      this.notice = t("studio.team.added_notice", { email: user.email });
      await this.load();
    } catch (err) {
      this.error = staffMessage(err);
    }
  }

  private row(u: StaffUser) {
    const me = u.id === this.session.user.id;
    return html`<tr>
      <td>${u.display_name}${me ? html` <span class="muted">${t("studio.team.you")}</span>` : ""}</td>
      <td>${u.email}</td>
      <td class="role">${roleName(u.role)}</td>
      <td>${u.disabled_at
        ? html`<span class="pill disabled">${t("studio.team.status_disabled")}</span>`
        : html`<span class="pill">${t("studio.team.status_active")}</span>`}</td>
      <td class="actions">
        ${u.disabled_at
          ? html`<button class="secondary" @click=${() => this.act(u, "enable")}>${t("studio.team.enable")}</button>`
          : html`<button class="secondary" @click=${() => this.act(u, "sign-out")}>${t("studio.sign_out")}</button>
              <button class="secondary" @click=${() => this.act(u, "disable")}>${t("studio.team.disable")}</button>`}
        <button class="danger" @click=${() => this.act(u, "remove")}>${t("studio.team.remove")}</button>
      </td>
    </tr>`;
  }

  render() {
    return html`
      <section class="card">
        <h2>${t("studio.team.your_password")}</h2>
        <form class="password" @submit=${this.changePassword}>
          <label>${t("studio.team.current_password")}
            <input name="current_password" type="password" autocomplete="current-password" required />
          </label>
          <label>${t("studio.team.new_password")}
            <input name="new_password" type="password" autocomplete="new-password" minlength="10" required />
          </label>
          <label>${t("studio.team.repeat_password")}
            <input name="repeat" type="password" autocomplete="new-password" minlength="10" required />
          </label>
          ${this.passwordError ? html`<div class="error" role="alert">${this.passwordError}</div>` : ""}
          ${this.passwordNotice ? html`<div class="ok" role="status">${this.passwordNotice}</div>` : ""}
          <div class="actions" style="justify-content:flex-start">
            <button type="submit">${t("studio.team.change_password")}</button>
            <button type="button" class="secondary" @click=${() => this.signOutEverywhere()}>
              ${t("studio.team.sign_out_everywhere")}
            </button>
          </div>
        </form>
      </section>
      ${this.owner
        ? html`<section class="card">
            <h2>${t("studio.team.staff_of", { shop: this.session.vendor.name })}</h2>
            ${this.error ? html`<div class="error" role="alert">${this.error}</div>` : ""}
            ${this.notice ? html`<div class="ok" role="status">${this.notice}</div>` : ""}
            <div class="scroll"><table>
              <thead><tr><th>${t("studio.team.name")}</th><th>${t("studio.field.email")}</th>
                <th>${t("studio.team.role")}</th><th>${t("studio.team.status")}</th><th></th></tr></thead>
              <tbody>${this.staff.map((u) => this.row(u))}</tbody>
            </table></div>
            <form class="add" @submit=${this.add}>
              <label>${t("studio.field.email")} <input name="email" type="email" required /></label>
              <label>${t("studio.team.name")} <input name="display_name" required /></label>
              <label>${t("studio.team.role")}
                <select name="role">
                  <option value="host">${t("studio.role.host")}</option>
                  <option value="moderator">${t("studio.role.moderator")}</option>
                  <option value="owner">${t("studio.role.owner")}</option>
                </select>
              </label>
              <label>${t("studio.team.first_password")} <input name="password" type="text" minlength="10" required autocomplete="off" /></label>
              <button type="submit">${t("studio.team.add")}</button>
            </form>
          </section>`
        : ""}
    `;
  }
}
customElements.define("studio-team", StudioTeam);
