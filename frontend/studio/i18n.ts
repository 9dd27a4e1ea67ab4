// The studio's words: its own catalogues (studio/i18n/<lang>.json, same format as
// the player's in shared/i18n/), read through the same Catalogues mechanism, so
// the embed never carries them and the studio never carries the player's.
// The language: the one picked in the studio (remembered in this browser), else
// the first of the browser's languages we have, else English.

import type { TemplateResult } from "lit";
import { Catalogues, LANGUAGES, type Lang, type Params, locale, matchLanguage, pickLocale } from "../shared/i18n";
import { formatMoney } from "../shared/money";
import en from "./i18n/en.json";

export { LANGUAGES, type Lang, locale };

const studio = new Catalogues(en, {
  id: () => import("./i18n/id.json"),
  th: () => import("./i18n/th.json"),
  vi: () => import("./i18n/vi.json"),
  fil: () => import("./i18n/fil.json"),
  ms: () => import("./i18n/ms.json"),
  "zh-Hans": () => import("./i18n/zh-Hans.json"),
});

/** Each language by its own name, as the picker lists them (never translated:
 * a reader looks for their own language's name). */
export const LANGUAGE_NAMES: Record<Lang, string> = {
  en: "English",
  id: "Bahasa Indonesia",
  th: "ไทย",
  vi: "Tiếng Việt",
  fil: "Filipino",
  ms: "Bahasa Melayu",
  "zh-Hans": "简体中文",
};

const STORAGE_KEY = "pasar.studio.language";

/** Told when the language changed: every studio element draws itself again. */
export const languageChanges = new EventTarget();
let loaded = false;

/** The first language has loaded: until then the studio shows no words at all. */
export function languageLoaded(): boolean {
  return loaded;
}

/** The studio's text for `key` in the current language (see Catalogues.t). */
export function t(key: string, params: Params = {}): string {
  return studio.t(key, params);
}

/** The language to start in: the one picked here before, else the browser's. */
export function startingLanguage(): Lang {
  let saved: string | null = null;
  try {
    saved = localStorage.getItem(STORAGE_KEY);
  } catch {
    // storage blocked: the browser's languages still choose
  }
  return pickLocale(matchLanguage(saved), null);
}

/** Load `lang`'s catalogue and show the studio in it; `remember` when a person picked it. */
export async function useLanguage(lang: Lang, remember = false): Promise<void> {
  await studio.use(lang);
  loaded = true;
  document.documentElement.lang = locale();
  document.title = t("studio.page_title");
  if (remember) {
    try {
      localStorage.setItem(STORAGE_KEY, lang);
    } catch {
      // not remembered; still switched
    }
  }
  languageChanges.dispatchEvent(new Event("change"));
}

/** Translated text with Lit templates (a link, code) put where its `{slot}`s are,
 * so each language places them in its own word order. */
export function withSlots(text: string, slots: Record<string, TemplateResult>): (string | TemplateResult)[] {
  return text.split(/\{(\w+)\}/).map((part, i) => (i % 2 ? slots[part] ?? `{${part}}` : part));
}

/** Money in the studio's language; "Rp", "₱", "฿" rather than "IDR" in any language. */
export function money(minor: number, currency: string): string {
  return formatMoney(minor, currency, locale(), "narrowSymbol");
}

/** A count in the studio's language's digits and grouping. */
export function count(n: number): string {
  return new Intl.NumberFormat(locale()).format(n);
}

/** A duration as the language writes it short ("15 min", "15 menit", "15 นาที"). */
export function duration(seconds: number): string {
  const [value, unit] = seconds >= 120 ? [Math.ceil(seconds / 60), "minute"] : [seconds, "second"];
  return new Intl.NumberFormat(locale(), { style: "unit", unit, unitDisplay: "short" }).format(value);
}

/** A staff member's role, for people. */
export function roleName(role: string): string {
  switch (role) {
    case "owner":
      return t("studio.role.owner");
    case "host":
      return t("studio.role.host");
    case "moderator":
      return t("studio.role.moderator");
    default:
      return role;
  }
}

/** A show's state, for people. */
export function showStateName(state: string): string {
  switch (state) {
    case "scheduled":
      return t("studio.show_state.scheduled");
    case "live":
      return t("studio.show_state.live");
    case "ended":
      return t("studio.show_state.ended");
    case "replay":
      return t("studio.show_state.replay");
    default:
      return state;
  }
}
