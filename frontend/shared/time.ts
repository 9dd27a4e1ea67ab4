// Times as shoppers read them, through Intl in the player's language.

import { locale } from "./i18n";

/** A countdown: "4:59", "12:03", "1:02:03" (hours only when needed); never below 0. */
export function countdown(ms: number): string {
  const s = Math.max(0, Math.ceil(ms / 1000));
  const two = new Intl.NumberFormat(locale(), { minimumIntegerDigits: 2, useGrouping: false });
  const one = new Intl.NumberFormat(locale(), { useGrouping: false });
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = two.format(s % 60);
  return h ? `${one.format(h)}:${two.format(m)}:${sec}` : `${one.format(m)}:${sec}`;
}

/** A position in a video ("12:34", "1:02:03"), as chapter marks show it. */
export function mediaTime(seconds: number): string {
  return countdown(Math.max(0, Math.floor(seconds)) * 1000);
}

const UNITS: [Intl.RelativeTimeFormatUnit, number][] = [
  ["day", 86_400],
  ["hour", 3_600],
  ["minute", 60],
  ["second", 1],
];

/** How far `target` is from `now`, short: "in 2 hr.", "dalam 2 jam", "2小时后",
 * "tomorrow". The largest unit that fits, rounded. */
export function relative(target: Date | number, now: number = Date.now()): string {
  const diff = (typeof target === "number" ? target : target.getTime()) - now;
  const abs = Math.abs(diff) / 1000;
  const fmt = new Intl.RelativeTimeFormat(locale(), { numeric: "auto", style: "short" });
  for (const [unit, size] of UNITS) {
    if (abs >= size || unit === "second") return fmt.format(Math.round(diff / 1000 / size), unit);
  }
  return fmt.format(0, "second");
}

/** A date and time ("6 Dec 2026, 19:00" in the language's own order). */
export function dateTime(value: Date | number | string): string {
  return new Intl.DateTimeFormat(locale(), { dateStyle: "medium", timeStyle: "short" }).format(
    new Date(value),
  );
}

/** A time of day ("19:00", "7:00 PM"). */
export function clockTime(value: Date | number | string): string {
  return new Intl.DateTimeFormat(locale(), { timeStyle: "short" }).format(new Date(value));
}
