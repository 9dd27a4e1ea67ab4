import { css, html } from "lit";
import { StudioElement } from "./element";
import { LANGUAGES, LANGUAGE_NAMES, type Lang, locale, t, useLanguage } from "./i18n";

/** The studio's language picker: the seven languages by their own names. */
export class StudioLanguage extends StudioElement {
  static styles = css`
    :host { display: inline-block; }
    select { font: inherit; font-size: 14px; padding: 4px 8px; border-radius: 8px;
      border: 1px solid #cfc8bb; background: #fff; color: #1d1b18; max-width: 100%; }
  `;

  render() {
    return html`<select aria-label=${t("studio.language")} title=${t("studio.language")}
      @change=${(e: Event) => useLanguage((e.target as HTMLSelectElement).value as Lang, true)}>
      ${LANGUAGES.map(
        (lang) => html`<option value=${lang} lang=${lang} ?selected=${lang === locale()}>${LANGUAGE_NAMES[lang]}</option>`,
      )}
    </select>`;
  }
}
customElements.define("studio-language", StudioLanguage);
