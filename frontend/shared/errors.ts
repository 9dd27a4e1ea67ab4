// The one place an error becomes words, for either audience:
// - shopperMessage: what a shopper reads (the player): the catalogue's message for
//   the error code (an API refusal, a socket `error` event, "network"), else the
//   server's own message, else a generic one; "try again in n s" when the server
//   said when.
// - staffMessage: what staff read (studio/): the server's message as it is, with
//   the fields a validation error names.

import { ApiError } from "./api";
import { errorText, t } from "./i18n";

export function shopperMessage(e: unknown): string {
  let text = t("error.unknown");
  let wait: unknown = null;
  if (e instanceof ApiError) {
    text = errorText(e.code, e.message);
    if (e.status === 429) wait = e.retryAfter;
  } else if (e && typeof e === "object" && "code" in e && typeof e.code === "string") {
    // A socket `error` event's data: {code, message, retry_after?}.
    text = errorText(e.code, "message" in e && typeof e.message === "string" ? e.message : null);
    if ("retry_after" in e) wait = e.retry_after;
  }
  return typeof wait === "number" && wait > 0 ? `${text} · ${t("error.retry_in", { n: Math.ceil(wait) })}` : text;
}

export function staffMessage(e: unknown): string {
  if (e instanceof ApiError) {
    const fields = Array.isArray(e.details) ? e.details.flatMap(fieldText) : [];
    return fields.length ? `${e.message}: ${fields.join("; ")}` : e.message;
  }
  return e instanceof Error ? e.message : String(e);
}

/** One entry of a validation error's details: {field: "body.price", message}. */
function fieldText(d: unknown): string[] {
  const { field, message } = (d ?? {}) as { field?: unknown; message?: unknown };
  if (typeof message !== "string" || !message) return [];
  return typeof field === "string" && field ? [`${field.replace(/^(body|query|path)\./, "")}: ${message}`] : [message];
}
