// The player's templates (lit-html). Everything a shopper or a vendor typed is
// interpolated as text (lit escapes it); never `unsafeHTML`. Layout: the stage
// (video and what floats over it) and, on wide screens, a side panel with the
// chat and the products; bottom sheets for details, the deal, the cart.

import { html, nothing, type TemplateResult } from "lit";
import { classMap } from "lit/directives/class-map.js";
import { live } from "lit/directives/live.js";
import { styleMap } from "lit/directives/style-map.js";
import type { ChatMessage, Poll } from "../shared/events";
import { errorText, locale, t } from "../shared/i18n";
import { formatMoney } from "../shared/money";
import type { PublicProduct, PublicVariant } from "../shared/storefront";
import { countdown, dateTime, mediaTime } from "../shared/time";
import type { PasarLive, Sheet } from "./player";
import { icon } from "./icons";
import { googleCalendarUrl, icsEvent } from "./util";

type P = PasarLive;

function money(p: P, minor: number, currency: string): string {
  // "Rp 94.500", "₱1,299", "฿890" even in English: shoppers know their own symbol.
  return formatMoney(minor, currency, locale(), p.currencyDisplay ?? "narrowSymbol");
}

function compact(n: number): string {
  return new Intl.NumberFormat(locale(), { notation: "compact", maximumFractionDigits: 1 }).format(n);
}

/** What the stage says now (a catalogue key), or null while video plays. */
function statusKey(p: P): string | null {
  const m = p.model;
  const info = p.playback?.info;
  if (p.failure) return p.failure;
  if (info?.phase === "unplayable") return "state.cannot_play";
  if (m.state === "scheduled") return null; // the poster says it
  if (m.state === "live" && m.stream === "reconnecting") return "state.reconnecting";
  if (info?.phase === "playing" && info.live !== false) return info.stalled ? "state.loading" : null;
  if (info?.phase === "playing") return null;
  if (info?.phase === "ended") return "state.ended";
  if (info?.phase === "loading") return "state.loading";
  if (m.state === "live") return m.connected ? "state.host_away" : "state.connecting";
  if (m.state === "ended") return "state.ended_replay_soon";
  if (m.state === "replay") return "state.ended";
  return "state.loading";
}

export function render(p: P): TemplateResult {
  const doc = p.model.doc;
  const brand = p.brand;
  const style = styleMap({ "--brand": brand.bg, "--on-brand": brand.fg });
  if (!doc) {
    return html`<div class="player" style=${style} data-status=${p.failure ?? "loading"}>
      <div class="stage"><div class="status" role="status">${p.ready ? t(p.failure ?? "state.loading") : nothing}</div></div>
    </div>`;
  }
  if (p.layout === "floating" && !p.expanded) return bubble(p, style);
  const key = statusKey(p);
  const wide = p.layout !== "floating" || p.expanded;
  return html`<div
    class=${classMap({ player: true, sheeted: !!p.sheet })}
    style=${style}
    data-state=${p.model.state ?? "unknown"}
    data-status=${key ?? (p.model.state === "scheduled" ? "state.scheduled" : "playing")}
    role="region"
    aria-label=${doc.title}
  >
    ${stage(p, key)} ${wide ? panel(p) : nothing} ${p.sheet ? sheet(p, p.sheet) : nothing}
    <div class="toast" role="status" aria-live="polite">${p.toast ?? nothing}</div>
  </div>`;
}

// -- the floating bubble ------------------------------------------------------------

function bubble(p: P, style: ReturnType<typeof styleMap>): TemplateResult {
  const pin = p.model.pins.at(-1);
  const image = pin?.product.image_url;
  return html`<div class="player bubble" style=${style} data-state=${p.model.state ?? "unknown"}>
    <div
      class="stage"
      role="button"
      tabindex="0"
      aria-label=${t("player.expand")}
      @pointerdown=${(e: PointerEvent) => p.bubbleDown(e)}
      @pointermove=${(e: PointerEvent) => p.bubbleMove(e)}
      @pointerup=${() => p.bubbleUp()}
      @keydown=${(e: KeyboardEvent) => (e.key === "Enter" || e.key === " ") && p.expand(true)}
    >
      ${video(p)} ${p.model.state === "live" ? html`<span class="badge">${t("state.live")}</span>` : nothing}
      ${image ? html`<img class="bubble-thumb" src=${image} alt="" />` : nothing}
    </div>
  </div>`;
}

// -- the stage: video and what floats over it -----------------------------------------

function video(p: P): TemplateResult {
  const doc = p.model.doc;
  const poster = doc?.cover_url ?? undefined;
  return html`<video class="video" playsinline muted autoplay poster=${poster ?? nothing}></video>`;
}

function stage(p: P, key: string | null): TemplateResult {
  const m = p.model;
  const doc = m.doc!;
  const info = p.playback?.info;
  const replay = info?.live === false;
  return html`<div class="stage">
    ${doc.cover_url ? html`<div class="backdrop" style=${styleMap({ backgroundImage: `url("${encodeURI(doc.cover_url)}")` })}></div>` : nothing}
    ${video(p)} ${m.state === "scheduled" ? scheduled(p) : nothing}
    <div class="shade"></div>
    ${topBar(p, replay)} ${dealBanner(p)}
    ${key ? html`<div class="status" role="status"><span class=${key === "state.reconnecting" || key === "state.loading" ? "spinner" : ""}></span>${t(key)}</div>` : nothing}
    ${info?.phase === "playing" && p.videoMuted
      ? html`<button class="unmute" @click=${() => p.mute(false)}>${icon("muted")} ${t("player.tap_unmute")}</button>`
      : nothing}
    ${info?.needsTap ? html`<button class="tap-play" @click=${() => p.play()}>${icon("play")} ${t("player.play")}</button>` : nothing}
    ${info?.phase === "ended" ? html`<button class="tap-play" @click=${() => restart(p)}>${icon("restart")} ${t("player.watch_from_start")}</button>` : nothing}
    ${rail(p)}
    ${p.debug ? debugLine(p) : nothing}
    <div class="hearts" aria-hidden="true">${p.hearts.map((h) => html`<span style=${styleMap({ right: `${h.x}px` })}>${icon("heart", 26)}</span>`)}</div>
    <div class="bottom">
      ${m.poll ? pollCard(p, m.poll) : nothing} ${couponChip(p)}
      <div class="overlay-chat" @click=${() => p.open({ kind: "chat" })}>${chatLog(p, 5, false)}</div>
      ${pinnedCards(p)} ${replay ? seekBar(p) : composer(p)}
    </div>
  </div>`;
}

/** How far behind live this viewer is, for operators (not translated: a
 * developer's readout, like the browser's own media panel). */
function debugLine(p: P): TemplateResult {
  const v = p.playback?.video;
  const latency = p.playback?.hlsLatency ?? null;
  const parts: string[] = [];
  if (latency !== null && p.playback?.info.live) parts.push(`latency ${latency.toFixed(2)} s`);
  if (v && v.buffered.length) parts.push(`buffer ${Math.max(0, v.buffered.end(v.buffered.length - 1) - v.currentTime).toFixed(2)} s`);
  if (v?.videoWidth) parts.push(`${v.videoWidth}×${v.videoHeight}`);
  return html`<p class="debug" id="debug" data-latency=${latency === null ? "" : latency.toFixed(3)}>${parts.join(" · ")}</p>`;
}

function restart(p: P): void {
  const v = p.playback?.video;
  if (!v) return;
  v.currentTime = 0;
  p.play();
}

function topBar(p: P, replay: boolean): TemplateResult {
  const m = p.model;
  const doc = m.doc!;
  const logo = doc.vendor.logo_url;
  const initial = doc.vendor.name.trim().charAt(0).toUpperCase();
  return html`<header class="top">
    <div class="host">
      ${logo ? html`<img class="avatar" src=${logo} alt="" />` : html`<span class="avatar" aria-hidden="true">${initial}</span>`}
      <div class="who">
        <strong class="vendor-name">${doc.vendor.name}</strong>
        <span class="show-title">${doc.host ? `${doc.host.display_name} · ` : ""}${doc.title}</span>
      </div>
    </div>
    <div class="top-right">
      ${m.state === "live" && !replay ? html`<span class="badge">${t("state.live")}</span>` : nothing}
      ${replay || m.state === "replay" ? html`<span class="badge replay">${t("state.replay")}</span>` : nothing}
      ${m.state === "live" ? html`<span class="viewers" role="img" aria-label=${t("player.viewers", { n: m.viewers })}>${icon("eye", 14)} ${compact(m.viewers)}</span>` : nothing}
      ${p.layout === "floating"
        ? html`<button class="icon" aria-label=${t("player.minimise")} @click=${() => p.expand(false)}>${icon("minimise")}</button>`
        : nothing}
    </div>
  </header>`;
}

function scheduled(p: P): TemplateResult {
  const doc = p.model.doc!;
  const at = doc.scheduled_at ? new Date(doc.scheduled_at) : null;
  const left = at ? at.getTime() - p.now : 0;
  const when = at ? (left > 0 ? t("state.starts_in", { t: countdown(left) }) : t("state.starting_soon")) : t("state.scheduled");
  let calendar: TemplateResult | typeof nothing = nothing;
  if (at && left > 0) {
    const ics = icsEvent({ uid: `${doc.id}@pasar`, title: doc.title, start: at, url: doc.watch_url, description: doc.watch_url });
    const href = `data:text/calendar;charset=utf-8,${encodeURIComponent(ics)}`;
    calendar = html`<div class="remind">
      <a class="button brand" href=${href} download=${`${doc.id}.ics`}>${icon("bell", 16)} ${t("player.remind_me")}</a>
      <a class="button ghost" href=${googleCalendarUrl(doc.title, at, doc.watch_url)} target="_blank" rel="noopener">${t("player.add_to_calendar")}</a>
    </div>`;
  }
  return html`<div class="poster">
    <span class="badge soon">${t("state.scheduled")}</span>
    <h2>${doc.title}</h2>
    ${at ? html`<p class="when">${dateTime(at)}</p>` : nothing}
    <p class="countdown" role="timer">${when}</p>
    ${calendar}
  </div>`;
}

function rail(p: P): TemplateResult {
  const count = p.cartState?.item_count ?? 0;
  const lineup = p.model.doc?.lineup.length ?? 0;
  // Each count is in its button's name (WCAG 2.5.3: the visible text is part of the name).
  return html`<div class="rail">
    <button class="icon like" aria-label=${`${t("player.like")}, ${t("player.likes", { n: p.model.likes })}`} @click=${() => p.like()}>${icon("heart", 24)}<small aria-hidden="true">${compact(p.model.likes)}</small></button>
    <button class="icon" aria-label=${t("player.share")} @click=${() => p.share()}>${icon("share")}</button>
    <button class="icon cart-button" aria-label=${count ? `${t("cart.open")}, ${t("cart.items", { n: count })}` : t("cart.open")} @click=${() => p.open({ kind: "cart" })}>
      ${icon("cart")}${count ? html`<span class="count" data-count=${count} aria-hidden="true">${count}</span>` : nothing}
    </button>
    <button class="icon lineup-button" aria-label=${`${t("lineup.open")}, ${t("lineup.count", { n: lineup })}`} @click=${() => p.open({ kind: "lineup" })}>
      ${icon("bag")}<span class="count" aria-hidden="true">${lineup}</span>
    </button>
    <button class="icon mute-button" aria-label=${t(p.videoMuted ? "player.unmute" : "player.mute")} @click=${() => p.toggleMute()}>
      ${p.videoMuted ? icon("muted") : icon("volume")}
    </button>
  </div>`;
}

// -- chat ------------------------------------------------------------------------------

function chatLog(p: P, last: number, full: boolean): TemplateResult {
  const m = p.model;
  const chat = p.visibleChat();
  const messages = last ? chat.slice(-last) : chat;
  return html`${m.pinnedMessage && !p.replayChat
      ? html`<p class="pinned-message"><span class="tag">${icon("pin", 12)} ${t("chat.pinned")}</span> ${author(m.pinnedMessage)} ${m.pinnedMessage.text}</p>`
      : nothing}
    <ol class=${classMap({ "chat-log": true, full })} aria-label=${t("chat.title")} aria-live=${full ? "polite" : "off"}>
      ${full && !messages.length ? html`<li class="empty">${t("chat.empty")}</li>` : nothing}
      ${messages.map((c) => html`<li class=${`msg ${c.author.role}`} data-id=${c.id}>${author(c)} <span class="text">${c.text}</span></li>`)}
    </ol>`;
}

function author(c: ChatMessage): TemplateResult {
  return html`<b class="author">${c.author.name}</b>`;
}

function composer(p: P): TemplateResult {
  const m = p.model;
  if (m.state === "ended" || m.state === "replay") return html``;
  if (p.blocked) return html`<p class="composer muted-note blocked" role="status">${t("error.origin_not_allowed")}</p>`;
  if (m.isMuted(p.now)) {
    const text = m.muted?.banned
      ? t("chat.banned")
      : m.muted?.until
        ? t("chat.muted_until", { time: dateTime(m.muted.until) })
        : t("chat.muted");
    return html`<p class="composer muted-note" role="status">${text}</p>`;
  }
  const name = m.me?.name;
  return html`<form
    class="composer"
    @submit=${(e: Event) => {
      e.preventDefault();
      p.sendChat();
    }}
  >
    <input
      name="chat"
      .value=${live(p.draft)}
      maxlength="500"
      autocomplete="off"
      enterkeyhint="send"
      placeholder=${t("chat.placeholder")}
      aria-label=${name ? t("chat.chatting_as", { name }) : t("chat.placeholder")}
      @input=${(e: Event) => (p.draft = (e.target as HTMLInputElement).value)}
    />
    <button class="send" type="submit" aria-label=${t("chat.send")} ?disabled=${!p.socket || !m.connected}>${icon("send")}</button>
  </form>`;
}

// -- polls and coupons ----------------------------------------------------------------------

function pollCard(p: P, poll: Poll): TemplateResult {
  const mine = p.votes[poll.id];
  const voted = mine !== undefined || poll.closed;
  const total = poll.options.reduce((n, o) => n + o.votes, 0);
  const left = Date.parse(poll.closes_at) - p.now;
  return html`<section class="card poll" aria-label=${t("poll.title")}>
    <p class="q"><span class="tag">${icon("poll", 12)} ${t("poll.title")}</span> ${poll.question}</p>
    <ul>
      ${poll.options.map((o, i) => {
        const pct = total ? Math.round((o.votes / total) * 100) : 0;
        return html`<li>
          <button
            class=${classMap({ option: true, chosen: mine === i })}
            ?disabled=${voted}
            @click=${() => p.vote(poll.id, i)}
            style=${styleMap({ "--pct": `${voted ? pct : 0}%` })}
          >
            <span>${o.text}</span>${voted ? html`<b>${new Intl.NumberFormat(locale(), { style: "percent" }).format(pct / 100)}</b>` : nothing}
          </button>
        </li>`;
      })}
    </ul>
    <p class="meta">
      ${t("poll.votes", { n: total })} ·
      ${poll.closed || left <= 0 ? t("poll.closed") : mine !== undefined ? t("poll.voted") : t("poll.closes_in", { t: countdown(left) })}
    </p>
  </section>`;
}

function couponChip(p: P): TemplateResult | typeof nothing {
  const c = p.model.coupons[0];
  if (!c) return nothing;
  return html`<button class="chip coupon-chip" @click=${() => p.open({ kind: "coupons" })}>${icon("ticket", 16)} ${couponValue(p, c)} · <code>${c.code}</code></button>`;
}

function couponValue(p: P, c: P["model"]["coupons"][number]): string {
  return c.kind === "percent"
    ? t("coupon.percent_off", { n: c.value })
    : t("coupon.amount_off", { amount: money(p, c.value, c.currency ?? p.model.doc!.vendor.currency) });
}

// -- products ----------------------------------------------------------------------------------

function priceOf(p: P, product: PublicProduct, v?: PublicVariant): TemplateResult {
  const prices = product.variants.map((x) => x.price);
  const price = v ? v.price : Math.min(...prices);
  const compare = v ? v.compare_at_price : product.variants.find((x) => x.price === price)?.compare_at_price ?? null;
  const deal = p.model.dealFor(product.id, p.now);
  if (deal && Date.parse(deal.starts_at) <= p.now && deal.units_left > 0) {
    return html`<span class="price deal-price">${money(p, deal.price, deal.currency)}</span>
      <s class="was" aria-label=${t("product.compare_at", { price: money(p, price, product.currency) })}>${money(p, price, product.currency)}</s>`;
  }
  return html`<span class="price">${money(p, price, product.currency)}</span>${compare && compare > price
      ? html` <s class="was" aria-label=${t("product.compare_at", { price: money(p, compare, product.currency) })}>${money(p, compare, product.currency)}</s>`
      : nothing}`;
}

function pinnedCards(p: P): TemplateResult | typeof nothing {
  const pins = p.model.pins;
  if (!pins.length) return nothing;
  return html`<div class="pins" role="group" aria-label=${t("product.on_screen")}>
    ${pins.map((pin) => {
      const product = p.product(pin.product_id);
      const image = product?.images[0]?.url ?? pin.product.image_url;
      const title = product?.title ?? pin.product.title;
      return html`<article class="card product-card" data-product=${pin.product_id}>
        ${image ? html`<img src=${image} alt="" loading="lazy" />` : html`<span class="thumb-empty"></span>`}
        <div class="info">
          <span class="tag">${t("product.on_screen")}</span>
          <h3 class="title">${title}</h3>
          <p class="prices">${product ? priceOf(p, product) : nothing}</p>
        </div>
        <button class="buy brand" @click=${() => void p.openProduct(pin.product_id)}>${t("product.buy")}</button>
      </article>`;
    })}
  </div>`;
}

function lineupList(p: P): TemplateResult {
  const doc = p.model.doc!;
  if (!doc.lineup.length) return html`<p class="empty">${t("lineup.empty")}</p>`;
  const onScreen = new Set(p.model.pins.map((x) => x.product_id));
  const chapters = doc.playback.chapters.filter((c) => c.media_time !== null);
  return html`<ul class="lineup">
    ${doc.lineup.map((raw) => {
      const product = p.product(raw.id) ?? raw;
      const soldOut = product.variants.every((v) => !v.in_stock);
      const marks = chapters.filter((c) => c.product_id === product.id);
      return html`<li class="lineup-item" data-product=${product.id}>
        <button class="row" @click=${() => void p.openProduct(product.id)}>
          ${product.images[0] ? html`<img src=${product.images[0].url} alt="" loading="lazy" />` : html`<span class="thumb-empty"></span>`}
          <span class="info">
            ${onScreen.has(product.id) ? html`<span class="tag">${t("product.on_screen")}</span>` : nothing}
            <span class="title">${product.title}</span>
            <span class="prices">${priceOf(p, product)}</span>
            ${soldOut ? html`<span class="stock out">${t("product.sold_out")}</span>` : nothing}
          </span>
        </button>
        ${marks.map((c) => html`<button class="chip chapter" @click=${() => jump(p, c.media_time!)}>${icon("play", 12)} ${t("lineup.shown_at", { t: mediaTime(c.media_time!) })}</button>`)}
      </li>`;
    })}
  </ul>`;
}

function jump(p: P, seconds: number): void {
  const v = p.playback?.video;
  if (!v) return;
  v.currentTime = seconds;
  p.play();
  p.open(null);
}

function seekBar(p: P): TemplateResult {
  const v = p.playback?.video;
  const duration = v && Number.isFinite(v.duration) ? v.duration : 0;
  const chapters = p.model.doc!.playback.chapters.filter((c) => c.media_time !== null && duration);
  return html`<div class="seek">
    <button class="icon" aria-label=${t(v && !v.paused ? "player.pause" : "player.play")} @click=${() => (v?.paused ? p.play() : p.pause())}>
      ${v && !v.paused ? icon("pause") : icon("play")}
    </button>
    <span class="time">${mediaTime(v?.currentTime ?? 0)}</span>
    <div class="track">
      <input
        type="range"
        min="0"
        max=${duration || 1}
        step="0.1"
        .value=${live(String(v?.currentTime ?? 0))}
        aria-label=${t("player.seek")}
        @input=${(e: Event) => v && (v.currentTime = Number((e.target as HTMLInputElement).value))}
      />
      ${chapters.map((c) => {
        const product = p.product(c.product_id);
        return html`<button
          class="mark"
          style=${styleMap({ left: `${(c.media_time! / duration) * 100}%` })}
          aria-label=${`${product?.title ?? ""} · ${t("lineup.shown_at", { t: mediaTime(c.media_time!) })}`}
          @click=${() => jump(p, c.media_time!)}
        ></button>`;
      })}
    </div>
    <span class="time">${mediaTime(duration)}</span>
  </div>`;
}

// -- the flash deal ------------------------------------------------------------------------------

function dealBanner(p: P): TemplateResult | typeof nothing {
  const deal = p.model.visibleDeals(p.now)[0];
  if (!deal) return nothing;
  const product = p.product(deal.product_id);
  const usual = product ? Math.min(...product.variants.filter((v) => deal.variant_ids.includes(v.id)).map((v) => v.price)) : 0;
  const off = usual > deal.price ? Math.round((1 - deal.price / usual) * 100) : 0;
  const starts = Date.parse(deal.starts_at);
  const soldOut = deal.ended === "sold_out" || deal.units_left <= 0;
  const when = starts > p.now ? t("deal.starts_in", { t: countdown(starts - p.now) }) : t("deal.ends_in", { t: countdown(Date.parse(deal.ends_at) - p.now) });
  const pct = deal.quantity ? Math.round(((deal.quantity - deal.units_left) / deal.quantity) * 100) : 100;
  return html`<button class="deal-banner" data-deal=${deal.deal_id} @click=${() => p.openDeal(deal)}>
    <span class="flash">${icon("bolt", 14)} ${t("deal.flash_sale")}${off ? html` <b>${t("deal.percent_off", { n: off })}</b>` : nothing}</span>
    <span class="deal-title">${deal.title || product?.title || ""}</span>
    <span class="deal-meta">
      <span role="timer">${when}</span>
      <span class="bar" aria-hidden="true"><i style=${styleMap({ width: `${pct}%` })}></i></span>
      <span class="left" data-left=${deal.units_left}>${soldOut ? t("deal.sold_out") : t("deal.units_left", { n: deal.units_left })}</span>
    </span>
  </button>`;
}

function dealSheet(p: P, s: Extract<Sheet, { kind: "deal" }>): TemplateResult {
  const deal = p.model.deals.get(s.dealId);
  if (!deal) return html`<p class="empty">${t("deal.ended")}</p>`;
  const product = p.product(deal.product_id);
  const variants = (product?.variants ?? []).filter((v) => deal.variant_ids.includes(v.id));
  const reservation = p.reservations.get(deal.deal_id);
  const place = p.waitlist.get(deal.deal_id);
  const refusal = p.refusals.get(deal.deal_id);
  const busy = p.busy.has(deal.deal_id);
  const starts = Date.parse(deal.starts_at);
  const ended = (deal.ended && deal.ended !== "sold_out") || Date.parse(deal.ends_at) <= p.now;
  const soldOut = deal.ended === "sold_out" || deal.units_left <= 0 || refusal?.code === "sold_out";
  const guest = p.model.me?.role !== "shopper";
  let action: TemplateResult;
  const held = reservation && reservation.status === "held" ? Date.parse(reservation.expires_at) - p.now : 0;
  if (reservation && held > 0) {
    action = html`<p class="reserved" role="timer">${icon("check", 18)} ${t("deal.reserved", { t: countdown(held) })}</p>
      <p class="hint">${t("deal.reserved_hint")}</p>
      <button class="wide brand" @click=${() => void p.checkout()}>${t("deal.checkout_now")}</button>`;
  } else if (reservation) {
    action = html`<p class="refusal" role="alert">${t("deal.hold_expired")}</p>`;
  } else if (ended) {
    action = html`<p class="refusal">${t("deal.ended")}</p>`;
  } else if (place && place.status === "waiting") {
    action = html`<p class="waiting">${t("deal.waitlist_position", { n: place.position ?? 1 })}</p>
      <p class="hint">${t("deal.waitlist_hint")}</p>
      <button class="wide ghost" @click=${() => void p.leaveWaitlist(deal)}>${t("deal.leave_waitlist")}</button>`;
  } else if (soldOut) {
    action = html`<p class="refusal">${t("deal.sold_out")}</p>
      <button class="wide brand" ?disabled=${busy} @click=${() => void p.joinWaitlist(deal, s.variantId, s.quantity)}>${t("deal.join_waitlist")}</button>`;
  } else if (deal.signed_in_only && guest) {
    action = html`<p class="refusal">${t("deal.signed_in_only")}</p>`;
  } else {
    const needsVariant = variants.length > 1 && !s.variantId;
    action = html`<button class="wide brand claim" ?disabled=${busy || starts > p.now || needsVariant} @click=${() => void p.claim(deal, s.variantId, s.quantity)}>
      ${busy ? t("deal.claiming") : starts > p.now ? t("deal.starts_in", { t: countdown(starts - p.now) }) : needsVariant ? t("product.select_variant") : t("deal.claim")}
    </button>`;
  }
  return html`<div class="deal-sheet" data-deal=${deal.deal_id}>
    <div class="head">
      ${product?.images[0] ? html`<img src=${product.images[0].url} alt="" />` : nothing}
      <div>
        <p class="flash">${icon("bolt", 14)} ${t("deal.flash_sale")}</p>
        <h3>${deal.title || product?.title || ""}</h3>
        <p class="prices">
          <span class="price deal-price">${money(p, deal.price, deal.currency)}</span>
          ${variants[0] ? html`<s class="was">${money(p, variants[0].price, deal.currency)}</s>` : nothing}
        </p>
        <p class="deal-meta">
          <span class="left" data-left=${deal.units_left}>${soldOut ? t("deal.sold_out") : t("deal.units_left", { n: deal.units_left })}</span>
          · ${t("deal.limit", { n: deal.per_shopper_limit })}
        </p>
      </div>
    </div>
    ${variants.length > 1 && !reservation
      ? html`<div class="chips" role="radiogroup" aria-label=${t("product.select_variant")}>
          ${variants.map(
            (v) => html`<button
              role="radio"
              aria-checked=${s.variantId === v.id ? "true" : "false"}
              class=${classMap({ chip: true, on: s.variantId === v.id })}
              @click=${() => p.open({ ...s, variantId: v.id })}
            >
              ${v.title}
            </button>`,
          )}
        </div>`
      : nothing}
    ${!reservation && deal.per_shopper_limit > 1 && !soldOut && !ended
      ? stepper(s.quantity, deal.per_shopper_limit, (q) => p.open({ ...s, quantity: q }))
      : nothing}
    ${refusal && refusal.code !== "sold_out" ? html`<p class="refusal" role="alert">${refusal.text}</p>` : nothing}
    ${action}
  </div>`;
}

// -- sheets ------------------------------------------------------------------------------------

function stepper(value: number, max: number, set: (n: number) => void): TemplateResult {
  return html`<div class="stepper" role="group" aria-label=${t("product.quantity")}>
    <button aria-label=${t("cart.decrease")} ?disabled=${value <= 1} @click=${() => set(value - 1)}>−</button>
    <output>${value}</output>
    <button aria-label=${t("cart.increase")} ?disabled=${value >= max} @click=${() => set(value + 1)}>+</button>
  </div>`;
}

function productSheet(p: P, s: Extract<Sheet, { kind: "product" }>): TemplateResult {
  const product = p.product(s.productId);
  if (!product) return html`<p class="empty">${t("error.not_found")}</p>`;
  const chosen = p.chosenVariant(product, s.selected);
  const deal = p.model.dealFor(product.id, p.now);
  const axes = product.variants.length > 1 ? product.options : [];
  return html`<div class="product-sheet" data-product=${product.id}>
    <div class="gallery">
      ${product.images.map((i) => html`<img src=${i.url} alt=${i.alt} loading="lazy" />`)}
    </div>
    <h3>${product.title}</h3>
    <p class="prices">${priceOf(p, product, chosen)}</p>
    ${chosen
      ? html`<p class=${classMap({ stock: true, out: !chosen.in_stock, low: chosen.low_stock })}>
          ${!chosen.in_stock ? t("product.sold_out") : chosen.low_stock ? t("product.low_stock") : t("product.in_stock")}
        </p>`
      : nothing}
    ${axes.map((axis) => {
      const values = [...new Set(product.variants.map((v) => v.options[axis]).filter((x) => x !== undefined))];
      return html`<fieldset class="axis">
        <legend>${axis}${s.selected[axis] ? html`: <b>${s.selected[axis]}</b>` : nothing}</legend>
        <div class="chips">
          ${values.map((value) => {
            const withValue = product.variants.filter((v) => v.options[axis] === value);
            // Sold out in every combination: struck and off. In stock only with other
            // choices: struck, and a tap moves the other choices to one in stock.
            const anyInStock = withValue.find((v) => v.in_stock);
            const fits = withValue.some((v) => v.in_stock && product.options.every((a) => a === axis || !s.selected[a] || v.options[a] === s.selected[a]));
            const pick = () => p.open({ ...s, selected: fits || !anyInStock ? { ...s.selected, [axis]: value } : { ...anyInStock.options } });
            return html`<button
              class=${classMap({ chip: true, on: s.selected[axis] === value, struck: !fits })}
              aria-pressed=${s.selected[axis] === value ? "true" : "false"}
              ?disabled=${!anyInStock}
              @click=${pick}
            >
              ${value}
            </button>`;
          })}
        </div>
      </fieldset>`;
    })}
    ${stepper(s.quantity, 99, (q) => p.open({ ...s, quantity: q }))}
    <div class="actions">
      ${deal ? html`<button class="wide ghost" @click=${() => p.openDeal(deal)}>${icon("bolt", 16)} ${t("deal.claim")}</button>` : nothing}
      <button
        class="wide brand add"
        ?disabled=${!chosen || !chosen.in_stock}
        @click=${() => chosen && void p.addToCart(product, chosen, s.quantity)}
      >
        ${!chosen ? t("product.select_variant") : chosen.in_stock ? t("product.add_to_cart") : t("product.sold_out")}
      </button>
    </div>
    ${product.description ? html`<p class="description">${product.description}</p>` : nothing}
    ${product.url ? html`<a class="shop-link" href=${product.url} target="_top">${t("product.view_in_shop")} →</a>` : nothing}
  </div>`;
}

function cartSheet(p: P): TemplateResult {
  const cart = p.cartState;
  if (!cart || !cart.lines.length) return html`<p class="empty">${t("cart.empty")}</p>`;
  const currency = cart.currency ?? p.model.doc!.vendor.currency;
  return html`<ul class="cart-lines">
      ${cart.lines.map(
        (l, i) => html`<li class="cart-line">
          ${l.image_url ? html`<img src=${l.image_url} alt="" />` : html`<span class="thumb-empty"></span>`}
          <div class="info">
            <span class="title">${l.title}</span>
            ${l.variant_title ? html`<span class="variant">${l.variant_title}</span>` : nothing}
            <span class="price">${money(p, l.line_total, currency)}</span>
            ${l.problem ? html`<span class="stock out">${errorText(l.problem)}</span>` : nothing}
            ${l.reservation_id ? html`<span class="tag">${icon("bolt", 12)} ${t("deal.flash_sale")}</span>` : nothing}
          </div>
          ${l.reservation_id
            ? html`<span class="qty">× ${l.quantity}</span>`
            : stepper(l.quantity, 99, (q) => void p.setLineQuantity(i, q))}
          <button class="icon remove" aria-label=${t("cart.remove")} @click=${() => void p.setLineQuantity(i, 0)}>${icon("close", 18)}</button>
        </li>`,
      )}
    </ul>
    <p class="subtotal"><span>${t("cart.subtotal")}</span> <b>${money(p, cart.subtotal, currency)}</b></p>
    <button class="wide brand checkout" @click=${() => void p.checkout()}>${t("cart.checkout")}</button>
    <button class="wide ghost" @click=${() => p.open(null)}>${t("cart.continue")}</button>`;
}

function couponsSheet(p: P): TemplateResult {
  return html`<ul class="coupons">
    ${p.model.coupons.map(
      (c) => html`<li class="coupon">
        <div>
          <b>${couponValue(p, c)}</b>
          ${c.description ? html`<p>${c.description}</p>` : nothing}
          ${c.ends_at ? html`<p class="hint">${t("coupon.valid_until", { date: dateTime(c.ends_at) })}</p>` : nothing}
          <p class="hint">${t("coupon.use_at_checkout")}</p>
        </div>
        <button class="code" @click=${() => void p.copyCoupon(c.code)}>
          <code>${c.code}</code><small>${p.copied === c.code ? t("coupon.copied") : t("coupon.tap_to_copy")}</small>
        </button>
      </li>`,
    )}
  </ul>`;
}

function sheet(p: P, s: Sheet): TemplateResult {
  const titles: Record<Sheet["kind"], string> = {
    product: t("product.details"),
    deal: t("deal.flash_sale"),
    lineup: t("lineup.title"),
    cart: t("cart.title"),
    coupons: t("coupon.title"),
    chat: t("chat.title"),
  };
  let body: TemplateResult;
  if (s.kind === "product") body = productSheet(p, s);
  else if (s.kind === "deal") body = dealSheet(p, s);
  else if (s.kind === "lineup") body = lineupList(p);
  else if (s.kind === "cart") body = cartSheet(p);
  else if (s.kind === "coupons") body = couponsSheet(p);
  else body = html`${chatLog(p, 0, true)}${composer(p)}`;
  return html`<div class="scrim" @click=${() => p.open(null)}></div>
    <section class=${`sheet ${s.kind}`} role="dialog" aria-modal="true" aria-label=${titles[s.kind]} @keydown=${(e: KeyboardEvent) => e.key === "Escape" && p.open(null)}>
      <header>
        <h2>${titles[s.kind]}</h2>
        <button class="icon close" aria-label=${t("player.close")} @click=${() => p.open(null)}>${icon("close")}</button>
      </header>
      <div class="sheet-body">${body}</div>
    </section>`;
}

// -- the side panel (wide screens) ---------------------------------------------------------------

function panel(p: P): TemplateResult {
  return html`<aside class="panel">
    <div class="tabs" role="tablist">
      <button role="tab" aria-selected=${p.tab === "chat" ? "true" : "false"} @click=${() => ((p.tab = "chat"), p.requestUpdate())}>${t("chat.title")}</button>
      <button role="tab" aria-selected=${p.tab === "products" ? "true" : "false"} @click=${() => ((p.tab = "products"), p.requestUpdate())}>
        ${t("lineup.title")} <span class="count">${p.model.doc?.lineup.length ?? 0}</span>
      </button>
    </div>
    <div class="tab-body" role="tabpanel">
      ${p.tab === "chat" ? html`${chatLog(p, 0, true)}${composer(p)}` : lineupList(p)}
    </div>
  </aside>`;
}
