// What a shopper reads when something is refused: the catalogue's message for the
// error code (an API refusal, a socket `error` event, "network"), else the
// server's own message, else a generic one. Staff screens show the server's
// message as it is (studio/), shoppers' screens use this.

import { ApiError } from "./api";
import { errorText, t } from "./i18n";

export function shopperMessage(e: unknown): string {
  if (e instanceof ApiError) {
    const text = errorText(e.code, e.message);
    return e.retryAfter && e.status === 429 ? `${text} · ${t("error.retry_in", { n: Math.ceil(e.retryAfter) })}` : text;
  }
  if (e && typeof e === "object" && "code" in e && typeof e.code === "string") {
    const message = "message" in e && typeof e.message === "string" ? e.message : null;
    return errorText(e.code, message);
  }
  return t("error.unknown");
}
