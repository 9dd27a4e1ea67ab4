// One client for Pasar's REST API: the studio's calls (session cookie + CSRF
// token, `api()`) and the player's Storefront API calls from any origin
// (`request()` with explicit headers, no cookies). Every error from the server has
// the shape {"error": {"code", "message", "details"}} and becomes an ApiError; a
// request that never reached the server is ApiError(0, "network"). What people
// read comes from the code: shared/errors.ts.

import type { DealData } from "./events";

export class ApiError extends Error {
  constructor(
    public status: number,
    public code: string,
    message: string,
    public details: unknown = null,
    /** Seconds to wait before trying again (429, 503), when the server said. */
    public retryAfter: number | null = null,
  ) {
    super(message);
  }
}

let csrfToken = "";

export function setCsrf(token: string): void {
  csrfToken = token;
}

export interface RequestOptions {
  headers?: Record<string, string>;
  /** "same-origin" for the studio; the Storefront API takes no cookies: "omit". */
  credentials?: RequestCredentials;
}

/** One call; JSON in and out; errors as ApiError. */
export async function request<T>(
  method: string,
  url: string,
  body?: unknown,
  options: RequestOptions = {},
): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json", ...options.headers };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let res: Response;
  try {
    res = await fetch(url, {
      method,
      headers,
      credentials: options.credentials ?? "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, "network", "cannot reach the server; check the connection");
  }
  if (!res.ok) throw await errorFrom(res);
  if (res.status === 204) return undefined as T;
  return (await res.json().catch(() => null)) as T;
}

/** The ApiError a failed response stands for (its body need not be JSON). */
export async function errorFrom(res: Response): Promise<ApiError> {
  const data = await res.json().catch(() => null);
  const err = data?.error;
  const code = typeof err?.code === "string" ? err.code : `http_${res.status}`;
  const message =
    typeof err?.message === "string" ? err.message : res.statusText || `the server answered ${res.status}`;
  const header = Number(res.headers.get("Retry-After"));
  const retry = Number(err?.details?.retry_after ?? (header > 0 ? header : NaN));
  return new ApiError(res.status, code, message, err?.details ?? null, Number.isFinite(retry) ? retry : null);
}

/** The studio's calls: same origin, with the session's CSRF token on writes. */
export async function api<T>(
  method: string,
  path: string,
  body?: unknown,
  extraHeaders: Record<string, string> = {},
): Promise<T> {
  const headers = { ...extraHeaders };
  if (method !== "GET" && csrfToken) headers["X-CSRF-Token"] = csrfToken;
  return request<T>(method, path, body, { headers, credentials: "same-origin" });
}

export interface Vendor {
  id: string;
  slug: string;
  name: string;
  default_locale: string;
  default_currency: string;
}

export interface Session {
  user: { id: string; email: string; display_name: string; role: string };
  vendor: Vendor;
  csrf_token: string;
  scopes: string[];
}

export interface Variant {
  id: string;
  sku: string | null;
  title: string;
  price: number;
  compare_at_price: number | null;
  stock: number;
}

export interface Product {
  id: string;
  title: string;
  status: string;
  currency: string;
  variants: Variant[];
  images: { url: string; alt: string }[];
}

export interface Show {
  id: string;
  title: string;
  description: string;
  state: string;
  scheduled_at: string | null;
  cover_url: string | null;
  lineup: { product_id: string; position: number }[];
  playback_url: string;
}

export interface Ingest {
  whip_url: string;
  stream_key: string;
  rotated_at: string;
  rtmp_url: string | null;
}

export interface StreamPublisher {
  session_id: string;
  connected_at: number;
  codec: string;
  width: number | null;
  height: number | null;
  fps: number;
  video_kbps: number;
  audio_kbps: number;
  keyframe_interval_s: number | null;
  packet_loss_pct: number | null;
  transcoding: boolean;
}

/** GET /api/v1/shows/{id}/stream */
export interface StreamHealth {
  state: "live" | "reconnecting" | "offline";
  publisher: StreamPublisher | null;
}

/** A product on screen in a show (GET /api/v1/shows/{id}/pins). */
export interface Pin {
  id: string;
  show_id: string;
  product_id: string;
  pinned_at: string;
  unpinned_at: string | null;
  media_time: number | null;
}

/** A flash deal (GET /api/v1/shows/{id}/deals): what the socket's `deal.started`
 * says (under `id` rather than `deal_id`) and the staff's numbers. Prices are minor
 * units of `currency`. */
export interface Deal extends Omit<DealData, "deal_id"> {
  id: string;
  show_id: string;
  sold: number;
  held: number;
  hold_seconds: number;
  guest_hold_seconds: number;
  status: "upcoming" | "live" | "ended";
  end_reason: string | null;
  created_at: string;
}

export interface Page<T> {
  data: T[];
  next_cursor: string | null;
}
