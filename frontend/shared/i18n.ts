// The languages: one catalogue per language in shared/i18n/<lang>.json (the
// player's; the studio's are studio/i18n/<lang>.json, a second Catalogues set),
// a flat map of keys to strings with `{name}` placeholders. A key whose English
// needs plural forms maps to an object keyed by Intl.PluralRules categories
// ("one", "other", …) and is chosen by the `n` parameter. English is bundled (it
// is the fallback); the others load on demand, one small chunk each.
// tests/test_i18n_catalogues.py checks every catalogue has exactly English's keys,
// placeholders and its language's plural categories, and that the code asks for
// keys that exist and does not put text on screen without going through t().

import en from "./i18n/en.json";

export const LANGUAGES = ["en", "id", "th", "vi", "fil", "ms", "zh-Hans"] as const;
export type Lang = (typeof LANGUAGES)[number];

type Entry = string | Partial<Record<Intl.LDMLPluralRule, string>>;
export type Catalogue = Record<string, Entry>;
export type Params = Record<string, string | number>;

/** The languages other than English, each loaded on demand (its own chunk). */
export type Loaders = Record<Exclude<Lang, "en">, () => Promise<{ default: Catalogue }>>;

const LOADERS: Loaders = {
  id: () => import("./i18n/id.json"),
  th: () => import("./i18n/th.json"),
  vi: () => import("./i18n/vi.json"),
  fil: () => import("./i18n/fil.json"),
  ms: () => import("./i18n/ms.json"),
  "zh-Hans": () => import("./i18n/zh-Hans.json"),
};

// The language in use, one per page: every catalogue set reads it, and so do
// time.ts and the numbers in placeholders.
let current: Lang = "en";
let plurals = new Intl.PluralRules("en");
let numbers = new Intl.NumberFormat("en");

/** One set of catalogues (the player's here; the studio has its own in
 * studio/i18n/): English bundled as the fallback, the others loaded on demand,
 * so a page carries only the words of the side it shows. */
export class Catalogues {
  private catalogue: Catalogue;

  constructor(
    private readonly english: Catalogue,
    private readonly loaders: Loaders,
  ) {
    this.catalogue = english;
  }

  /** Switch the page to `lang`; its catalogue loads first (English on a failed load). */
  async use(lang: Lang): Promise<void> {
    let next = this.english;
    if (lang !== "en") {
      try {
        next = (await this.loaders[lang]()).default;
      } catch {
        lang = "en"; // a chunk that did not load: readable English beats keys
      }
    }
    this.catalogue = next;
    current = lang;
    plurals = new Intl.PluralRules(lang);
    numbers = new Intl.NumberFormat(lang);
  }

  has(key: string): boolean {
    return key in this.english;
  }

  /** The text for `key` in the current language with `{name}` filled from `params`
   * (numbers formatted for the language); plural keys pick their form by `n`. */
  t(key: string, params: Params = {}): string {
    let entry = this.catalogue[key] ?? this.english[key];
    if (entry === undefined) return key;
    if (typeof entry !== "string") {
      const n = Number(params.n ?? 0);
      entry = entry[plurals.select(n)] ?? entry.other ?? "";
    }
    return entry.replace(/\{(\w+)\}/g, (whole, name: string) => {
      const value = params[name];
      if (value === undefined) return whole;
      return typeof value === "number" ? numbers.format(value) : value;
    });
  }
}

// Pure: a page that never asks the player's catalogue (the studio) drops it.
const player = /* @__PURE__ */ new Catalogues(en, LOADERS);

/** One of our languages for a BCP 47 tag (or a POSIX-style "id_ID"), or null.
 * Every Chinese tag reads Simplified Chinese (we have no Traditional catalogue and
 * it is closer for a Chinese reader than English); "tl" is Filipino's older code,
 * "in" Indonesian's (Java and old Android still send it). */
export function matchLanguage(tag: string | null | undefined): Lang | null {
  if (!tag) return null;
  const primary = tag.trim().replace(/_/g, "-").split("-")[0].toLowerCase();
  switch (primary) {
    case "en":
    case "th":
    case "vi":
    case "ms":
    case "id":
    case "fil":
      return primary;
    case "in":
      return "id";
    case "tl":
      return "fil";
    case "zh":
      return "zh-Hans";
    default:
      return null;
  }
}

/** The language to show: the element's `locale` attribute (or `?locale=`), else the
 * vendor's default, else the first of the browser's languages we have, else English. */
export function pickLocale(
  attr: string | null | undefined,
  vendorDefault: string | null | undefined,
  browser: readonly string[] = typeof navigator === "undefined" ? [] : navigator.languages ?? [],
): Lang {
  for (const tag of [attr, vendorDefault, ...browser]) {
    const lang = matchLanguage(tag);
    if (lang) return lang;
  }
  return "en";
}

/** Switch the player's language; its catalogue loads first (English on a failed load). */
export function setLocale(lang: Lang): Promise<void> {
  return player.use(lang);
}

export function locale(): Lang {
  return current;
}

export function has(key: string): boolean {
  return player.has(key);
}

/** The player's text for `key` (see Catalogues.t). */
export function t(key: string, params: Params = {}): string {
  return player.t(key, params);
}

/** A shopper-facing message for a server error code (`error.<code>` in the
 * catalogues), else the server's own message, else a generic one. */
export function errorText(code: string | null | undefined, serverMessage?: string | null): string {
  if (code && has(`error.${code}`)) return t(`error.${code}`);
  return serverMessage || t("error.unknown");
}
