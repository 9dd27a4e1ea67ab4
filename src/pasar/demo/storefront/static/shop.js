// Toko Demo's page script: the mini cart (badge + drawer), the "add to cart"
// buttons, and the two-way link with the Pasar player (<pasar-live cart="page">):
// the player's cart events change this cart, and every change, wherever it comes
// from, is sent back with player.syncCart(state).
//
// Text from data is set with textContent, never as HTML. The words are the shop's
// own, in Indonesian (the vendor's site, not Pasar's player).

import { Cart } from "./cart.js";
import { formatMoney } from "./money.js";
import { initCheckout } from "./checkout.js";

const $ = (selector, root = document) => root.querySelector(selector);
const $$ = (selector, root = document) => [...root.querySelectorAll(selector)];
const players = () => $$("pasar-live");

let cart = null;
const ready = fetch("/catalogue.json")
  .then((r) => {
    if (!r.ok) throw new Error(`catalogue: HTTP ${r.status}`);
    return r.json();
  })
  .then((catalogue) => {
    cart = new Cart(catalogue);
    return cart;
  });

// -- small helpers -------------------------------------------------------------------

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "text") node.textContent = value;
    else if (key === "class") node.className = value;
    else if (key in node && typeof value !== "string") node[key] = value;
    else node.setAttribute(key, value);
  }
  node.append(...children.filter(Boolean));
  return node;
}

const money = (minor) => formatMoney(minor, cart?.currency ?? "IDR");

let toastTimer = 0;
export function toast(message, tone = "info") {
  const box = $("[data-toast]");
  if (!box) return;
  box.textContent = message;
  box.dataset.tone = tone;
  box.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => {
    box.hidden = true;
  }, 3500);
}

const timeOf = (iso) =>
  new Intl.DateTimeFormat("id-ID", { hour: "2-digit", minute: "2-digit" }).format(new Date(iso));

// -- the player ----------------------------------------------------------------------

/** Send the cart to every player on the page (once the element is defined). */
function syncPlayers() {
  if (!cart) return;
  const state = cart.state(location.origin);
  for (const player of players()) {
    if (typeof player.syncCart !== "function") continue;
    try {
      player.syncCart(state);
    } catch (err) {
      console.warn("Toko Demo: syncCart failed", err);
    }
  }
}

function release(line) {
  if (!line?.reservation_id) return;
  // Give the held units back to the flash deal now (best effort: the hold expires anyway).
  fetch(`/api/reservations/${encodeURIComponent(line.reservation_id)}/release`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: "{}",
  }).catch(() => {});
}

/** Run `decide` on the event's detail, answer the player, then show and sync. */
function answering(decide) {
  return async (event) => {
    const detail = event.detail ?? {};
    let answer;
    try {
      await ready;
      answer = decide(detail);
    } catch (err) {
      console.error("Toko Demo: cart event failed", err);
      answer = { ok: false, reason: "unavailable", message: "Maaf, ada gangguan. Coba lagi." };
    }
    if (typeof detail.respond === "function") detail.respond(answer);
    changed();
    return answer;
  };
}

function wirePlayer(player) {
  player.addEventListener(
    "add-to-cart",
    answering((detail) => {
      const answer = cart.answerAdd(detail);
      if (answer.ok) {
        const line = cart.lines.find((l) => l.sku === detail.sku);
        toast(`Dari live: ${line?.title ?? "produk"} masuk keranjang`, "live");
        bump();
      }
      return answer;
    }),
  );
  player.addEventListener(
    "update-cart",
    answering((detail) => {
      const before = detail.reservation_id ? cart.find(`rsv:${detail.reservation_id}`) : null;
      const answer = cart.answerUpdate(detail);
      if (answer.ok && before && detail.quantity === 0) release(before);
      return answer;
    }),
  );
  player.addEventListener(
    "checkout",
    answering((detail) => {
      const answer = cart.answerCheckout(detail);
      // Answer first, then leave: the player does not navigate by itself.
      if (answer.ok) setTimeout(() => location.assign("/checkout"), 0);
      return answer;
    }),
  );
  player.addEventListener("pasar:ready", () => ready.then(syncPlayers));
  // A shopper opened a product in the player: the player keeps them in the live
  // (its product sheet), so the shop does not navigate; it marks the product in its
  // own grid, where they find it after the show. ("View in shop" in the sheet links
  // to the product page.)
  player.addEventListener("pasar:product-click", (event) => {
    const url = event.detail?.url;
    if (!url) return;
    let path;
    try {
      path = new URL(url, location.href).pathname;
    } catch {
      return;
    }
    for (const link of document.querySelectorAll(".card-link")) {
      if (link.getAttribute("href") === path) link.closest(".card")?.classList.add("seen-live");
    }
  });
}

// -- the mini cart ---------------------------------------------------------------------

function bump() {
  const badge = $("[data-cart-count]");
  if (!badge) return;
  badge.classList.remove("bump");
  void badge.offsetWidth; // restart the animation
  badge.classList.add("bump");
}

function lineView(line) {
  const change = (quantity) => {
    const gone = quantity === 0 ? line : null;
    const answer = cart.setQuantity(line.key, quantity);
    if (!answer.ok) toast(answer.message, "warn");
    if (gone) release(gone);
    changed();
  };
  const tags = el("p", { class: "line-tags" });
  if (line.reservation_id) {
    const until = line.reservation_expires_at ? ` · bayar sebelum ${timeOf(line.reservation_expires_at)}` : "";
    tags.append(el("span", { class: "tag tag-deal", text: `Flash deal${until}` }));
  } else if (line.from_live) {
    tags.append(el("span", { class: "tag tag-live", text: "Dari live" }));
  }
  const quantity = line.reservation_id
    ? el("span", { class: "qty-fixed", text: `× ${line.quantity}` })
    : el(
        "div",
        { class: "stepper" },
        el("button", {
          type: "button",
          text: "−",
          "aria-label": `Kurangi ${line.title}`,
          onclick: () => change(line.quantity - 1),
        }),
        el("output", { text: String(line.quantity), "aria-label": "Jumlah" }),
        el("button", {
          type: "button",
          text: "+",
          "aria-label": `Tambah ${line.title}`,
          onclick: () => change(line.quantity + 1),
        }),
      );
  return el(
    "li",
    { class: "line", "data-line": line.key },
    el("img", { src: line.image_url, alt: "", width: "64", height: "64", loading: "lazy" }),
    el(
      "div",
      { class: "line-info" },
      el("a", { class: "line-title", href: line.url, text: line.title }),
      tags,
      el("p", { class: "line-price", text: money(line.quantity * line.unit_price) }),
    ),
    el(
      "div",
      { class: "line-actions" },
      quantity,
      el("button", {
        type: "button",
        class: "link-button",
        text: "Hapus",
        "aria-label": `Hapus ${line.title}`,
        onclick: () => change(0),
      }),
    ),
  );
}

function renderCart() {
  if (!cart) return;
  const count = cart.itemCount;
  for (const badge of $$("[data-cart-count]")) {
    badge.textContent = String(count);
    badge.hidden = count === 0;
  }
  const button = $("[data-cart-open]");
  button?.setAttribute("aria-label", `Keranjang, ${count} barang`);
  $("[data-cart-lines]")?.replaceChildren(...cart.lines.map(lineView));
  const empty = cart.lines.length === 0;
  const emptyNote = $("[data-cart-empty]");
  if (emptyNote) emptyNote.hidden = !empty;
  const foot = $("[data-cart-foot]");
  if (foot) foot.hidden = empty;
  const subtotal = $("[data-cart-subtotal]");
  if (subtotal) subtotal.textContent = money(cart.subtotal);
}

/** After any change: expired deals out, draw, and tell the player. */
function changed() {
  if (!cart) return;
  for (const line of cart.dropExpired()) {
    toast(`Waktu flash deal ${line.title} habis: dihapus dari keranjang`, "warn");
  }
  renderCart();
  syncPlayers();
  document.dispatchEvent(new CustomEvent("toko:cart-changed"));
}

function openDrawer(open) {
  const drawer = $("#cart");
  const scrim = $("[data-cart-scrim]");
  const button = $("[data-cart-open]");
  if (!drawer) return;
  drawer.classList.toggle("open", open);
  drawer.toggleAttribute("inert", !open);
  drawer.setAttribute("aria-hidden", String(!open));
  if (scrim) scrim.hidden = !open;
  button?.setAttribute("aria-expanded", String(open));
  document.body.classList.toggle("drawer-open", open);
  if (open) $("[data-cart-close]", drawer)?.focus();
  else if (drawer.contains(document.activeElement)) button?.focus();
}

// -- the page ------------------------------------------------------------------------

function wirePage() {
  $("[data-cart-open]")?.addEventListener("click", () => openDrawer(true));
  $("[data-cart-close]")?.addEventListener("click", () => openDrawer(false));
  $("[data-cart-scrim]")?.addEventListener("click", () => openDrawer(false));
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape") openDrawer(false);
  });

  for (const button of $$("[data-add-sku]")) {
    button.addEventListener("click", async () => {
      await ready;
      const answer = cart.addFromPage(button.dataset.addSku, 1);
      toast(answer.ok ? "Masuk keranjang" : answer.message, answer.ok ? "info" : "warn");
      if (answer.ok) bump();
      changed();
    });
  }

  for (const form of $$("form[data-buy]")) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      await ready;
      const data = new FormData(form);
      const quantity = Number.parseInt(String(data.get("quantity") ?? "1"), 10);
      const answer = cart.addFromPage(String(data.get("sku") ?? ""), quantity);
      toast(answer.ok ? "Masuk keranjang" : answer.message, answer.ok ? "info" : "warn");
      if (answer.ok) bump();
      changed();
    });
  }

  // Prices rendered on the server, in the same Intl format as the cart's.
  for (const node of $$("[data-money]")) {
    const minor = Number(node.dataset.money);
    if (Number.isInteger(minor)) node.textContent = formatMoney(minor, node.dataset.currency);
  }

  // Another tab changed the cart: take its version.
  window.addEventListener("storage", (event) => {
    if (event.key === null || event.key === "toko-demo.cart.v1") {
      cart?.load();
      changed();
    }
  });
  // Flash-deal holds run out while the page is open.
  setInterval(() => {
    if (cart?.lines.some((l) => l.reservation_expires_at)) changed();
  }, 15_000);
}

for (const player of players()) wirePlayer(player);
wirePage();
// The element may be defined after this script runs (or not at all): sync when it is.
customElements.whenDefined("pasar-live").then(() => ready.then(syncPlayers));

ready
  .then(() => {
    changed();
    initCheckout({ cart, money, toast, changed });
    document.documentElement.dataset.shopReady = "true";
  })
  .catch((err) => {
    console.error("Toko Demo: the catalogue did not load", err);
    toast("Toko sedang gangguan. Muat ulang halaman.", "warn");
  });
