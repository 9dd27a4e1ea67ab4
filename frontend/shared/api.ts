// A small client for Pasar's REST API with the studio's session cookie.
// Every error from the server has the shape {"error": {"code", "message", "details"}}.

export class ApiError extends Error {
  constructor(
    public status: number,
    public code: string,
    message: string,
    public details: unknown = null,
  ) {
    super(message);
  }
}

let csrfToken = "";

export function setCsrf(token: string): void {
  csrfToken = token;
}

export async function api<T>(
  method: string,
  path: string,
  body?: unknown,
  extraHeaders: Record<string, string> = {},
): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json", ...extraHeaders };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && csrfToken) headers["X-CSRF-Token"] = csrfToken;
  const res = await fetch(path, {
    method,
    headers,
    credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (res.status === 204) return undefined as T;
  const data = await res.json().catch(() => null);
  if (!res.ok) {
    const err = data?.error ?? { code: "http_" + res.status, message: res.statusText };
    throw new ApiError(res.status, err.code, err.message, err.details);
  }
  return data as T;
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

/** A flash deal (GET /api/v1/shows/{id}/deals). Prices are minor units of `currency`. */
export interface Deal {
  id: string;
  show_id: string;
  product_id: string;
  variant_ids: string[];
  title: string;
  price: number;
  currency: string;
  quantity: number;
  units_left: number;
  sold: number;
  held: number;
  per_shopper_limit: number;
  signed_in_only: boolean;
  hold_seconds: number;
  guest_hold_seconds: number;
  starts_at: string;
  ends_at: string;
  status: "upcoming" | "live" | "ended";
  end_reason: string | null;
  created_at: string;
}

export interface Page<T> {
  data: T[];
  next_cursor: string | null;
}
