import { LitElement } from "lit";
import { languageChanges } from "./i18n";

/** Every studio element: draws itself again when the studio's language changes,
 * keeping its state (a half-filled form, a running broadcast). */
export class StudioElement extends LitElement {
  private readonly redraw = () => this.requestUpdate();

  connectedCallback(): void {
    super.connectedCallback();
    languageChanges.addEventListener("change", this.redraw);
  }

  disconnectedCallback(): void {
    super.disconnectedCallback();
    languageChanges.removeEventListener("change", this.redraw);
  }
}
