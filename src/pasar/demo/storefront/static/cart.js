// Toko Demo's own cart, kept in the browser (localStorage). It answers the
// player's cart events as docs/embed-events.md describes them (add-to-cart,
// update-cart, checkout: each answered through detail.respond) and describes
// itself as a CartState for player.syncCart(), so the player shows the real cart.
//
// Messages are the shop's own (Indonesian): this is the vendor's site, not Pasar's
// player, so they do not come from Pasar's catalogues. The player shows a
// refusal's `message` as it is.

export const STORAGE_KEY = "toko-demo.cart.v1";
export const MAX_PER_LINE = 10;

const OK = Object.freeze({ ok: true });
const refuse = (reason, message) => ({ ok: false, reason, message });
const isId = (value) => typeof value === "string" && value.length > 0 && value.length <= 1000;
const optionalId = (value) => (isId(value) ? value : null);

export class Cart {
  /** @param catalogue {currency, products: [{handle, title, image_url, url, variants: [{sku, title, price, stock}]}]} */
  constructor(catalogue, storage = window.localStorage) {
    this.storage = storage;
    this.currency = catalogue.currency;
    this.bySku = new Map();
    for (const product of catalogue.products) {
      for (const variant of product.variants) this.bySku.set(variant.sku, { product, variant });
    }
    this.lines = [];
    this.checkoutClick = null;
    this.load();
  }

  // -- storage -------------------------------------------------------------------

  /** Read the saved cart again (another tab may have changed it). Lines the shop no
   * longer sells are dropped; plain lines take today's price. */
  load() {
    let saved = null;
    try {
      saved = JSON.parse(this.storage.getItem(STORAGE_KEY) ?? "null");
    } catch {
      saved = null;
    }
    const lines = Array.isArray(saved?.lines) ? saved.lines : [];
    this.lines = lines
      .filter((l) => l && this.bySku.has(l.sku) && Number.isInteger(l.quantity) && l.quantity > 0)
      .filter((l) => !l.reservation_id || Number.isInteger(l.unit_price))
      .map((l) => this.#line(l.sku, l));
    this.checkoutClick = optionalId(saved?.checkout_click);
  }

  save() {
    const data = { lines: this.lines, checkout_click: this.checkoutClick };
    try {
      this.storage.setItem(STORAGE_KEY, JSON.stringify(data));
    } catch (err) {
      console.warn("Toko Demo: the cart could not be saved", err);
    }
  }

  clear() {
    this.lines = [];
    this.checkoutClick = null;
    this.save();
  }

  // -- the shop's own catalogue ------------------------------------------------------

  #line(sku, from = {}) {
    const { product, variant } = this.bySku.get(sku);
    const deal = isId(from.reservation_id);
    return {
      key: deal ? `rsv:${from.reservation_id}` : `sku:${sku}`,
      sku,
      handle: product.handle,
      title: variant.title ? `${product.title} (${variant.title})` : product.title,
      image_url: product.image_url,
      url: product.url,
      quantity: from.quantity ?? 0,
      // A deal line keeps the deal's price (the reservation's); the shop's checkout
      // reads it back from Pasar. Every other line is priced by the shop.
      unit_price: deal ? from.unit_price : variant.price,
      reservation_id: deal ? from.reservation_id : null,
      reservation_expires_at: deal ? optionalId(from.reservation_expires_at) : null,
      deal_id: deal ? optionalId(from.deal_id) : null,
      // Pasar's names for the product (from the player), and the click that led
      // here: sent back as pasar_click with the order (attribution).
      product_id: optionalId(from.product_id),
      variant_id: optionalId(from.variant_id),
      show_id: optionalId(from.show_id),
      pin_id: optionalId(from.pin_id),
      click_token: optionalId(from.click_token),
      from_live: Boolean(from.from_live || from.click_token || deal),
    };
  }

  find(key) {
    return this.lines.find((l) => l.key === key) ?? null;
  }

  #stock(sku) {
    return this.bySku.get(sku).variant.stock;
  }

  #addPlain(sku, quantity, from = {}) {
    if (!this.bySku.has(sku)) {
      return refuse("unavailable", "Produk ini tidak dijual di Toko Demo.");
    }
    const fresh = this.#line(sku, { ...from, quantity });
    const stock = this.#stock(sku);
    if (stock <= 0) return refuse("out_of_stock", `Stok ${fresh.title} habis.`);
    const existing = this.find(fresh.key);
    const next = (existing?.quantity ?? 0) + quantity;
    if (next > MAX_PER_LINE) return refuse("limit", `Maksimal ${MAX_PER_LINE} per produk.`);
    if (next > stock) return refuse("out_of_stock", `Stok ${fresh.title} tinggal ${stock}.`);
    if (existing) {
      existing.quantity = next;
      // The latest click is the one that brought the shopper back to this product.
      for (const field of ["click_token", "product_id", "variant_id", "show_id", "pin_id"]) {
        if (fresh[field]) existing[field] = fresh[field];
      }
      existing.from_live ||= fresh.from_live;
    } else {
      this.lines.push(fresh);
    }
    this.save();
    return OK;
  }

  // -- the shopper, on the page ------------------------------------------------------

  addFromPage(sku, quantity = 1) {
    if (!Number.isInteger(quantity) || quantity < 1) {
      return refuse("limit", "Jumlah minimal 1.");
    }
    return this.#addPlain(sku, quantity);
  }

  /** Change a line's quantity (0 removes it). Answers like an event would. */
  setQuantity(key, quantity) {
    const line = this.find(key);
    if (!line) return quantity === 0 ? OK : refuse("unavailable", "Produk ini tidak ada di keranjang.");
    if (quantity === 0) {
      this.remove(key);
      return OK;
    }
    if (line.reservation_id && quantity !== line.quantity) {
      return refuse("limit", "Jumlah flash deal tidak bisa diubah. Hapus untuk membatalkan.");
    }
    if (quantity > MAX_PER_LINE) return refuse("limit", `Maksimal ${MAX_PER_LINE} per produk.`);
    if (!line.reservation_id && quantity > this.#stock(line.sku)) {
      return refuse("out_of_stock", `Stok ${line.title} tinggal ${this.#stock(line.sku)}.`);
    }
    line.quantity = quantity;
    this.save();
    return OK;
  }

  /** Take a line out; answers the line (its reservation is the caller's to release). */
  remove(key) {
    const line = this.find(key);
    this.lines = this.lines.filter((l) => l.key !== key);
    this.save();
    return line;
  }

  /** Deal lines whose hold ran out: removed, and answered so the page can say so. */
  dropExpired(now = Date.now()) {
    const gone = this.lines.filter(
      (l) => l.reservation_expires_at && Date.parse(l.reservation_expires_at) <= now,
    );
    if (gone.length) {
      this.lines = this.lines.filter((l) => !gone.includes(l));
      this.save();
    }
    return gone;
  }

  // -- the player's events (docs/embed-events.md) ----------------------------------------

  /** `add-to-cart`: the shopper tapped add (or claimed a deal) in the player. */
  answerAdd(detail) {
    if (!detail || !Number.isInteger(detail.quantity) || detail.quantity < 1) {
      return refuse("unavailable", "Permintaan tidak valid.");
    }
    if (typeof detail.sku !== "string" || !this.bySku.has(detail.sku)) {
      return refuse("unavailable", "Produk ini belum dijual di toko online kami.");
    }
    if (detail.currency && detail.currency !== this.currency) {
      return refuse("unavailable", "Mata uang ini tidak diterima di Toko Demo.");
    }
    const from = { ...detail, from_live: true };
    if (isId(detail.reservation_id)) {
      if (this.find(`rsv:${detail.reservation_id}`)) return OK; // the same claim again
      if (!Number.isInteger(detail.price) || detail.price < 0) {
        return refuse("unavailable", "Harga flash deal tidak valid.");
      }
      this.lines.push(this.#line(detail.sku, { ...from, unit_price: detail.price }));
      this.save();
      return OK;
    }
    return this.#addPlain(detail.sku, detail.quantity, from);
  }

  /** `update-cart`: the shopper changed a quantity in the player's cart view. */
  answerUpdate(detail) {
    if (!detail || !Number.isInteger(detail.quantity) || detail.quantity < 0) {
      return refuse("unavailable", "Permintaan tidak valid.");
    }
    const line = isId(detail.reservation_id)
      ? this.find(`rsv:${detail.reservation_id}`)
      : this.lines.find(
          (l) =>
            !l.reservation_id &&
            ((detail.sku && l.sku === detail.sku) ||
              (!detail.sku && detail.variant_id && l.variant_id === detail.variant_id)),
        );
    if (!line) {
      return detail.quantity === 0 ? OK : refuse("unavailable", "Produk ini tidak ada di keranjang.");
    }
    return this.setQuantity(line.key, detail.quantity);
  }

  /** `checkout`: the page takes the shopper to its checkout (the player does not). */
  answerCheckout(detail) {
    if (this.lines.length === 0) return refuse("cart_empty", "Keranjangmu masih kosong.");
    this.checkoutClick = optionalId(detail?.click_token);
    this.save();
    return OK;
  }

  // -- what the cart looks like ----------------------------------------------------------

  get itemCount() {
    return this.lines.reduce((n, l) => n + l.quantity, 0);
  }

  get subtotal() {
    return this.lines.reduce((sum, l) => sum + l.quantity * l.unit_price, 0);
  }

  /** The CartState of docs/embed-events.md, for player.syncCart(). */
  state(origin) {
    return {
      lines: this.lines.map((l) => ({
        variant_id: l.variant_id,
        sku: l.sku,
        product_id: l.product_id,
        title: l.title,
        quantity: l.quantity,
        unit_price: l.unit_price,
        line_total: l.quantity * l.unit_price,
        image_url: new URL(l.image_url, origin).href,
        reservation_id: l.reservation_id,
      })),
      subtotal: this.subtotal,
      currency: this.lines.length ? this.currency : null,
      item_count: this.itemCount,
      checkout_url: new URL("/checkout", origin).href,
    };
  }

  /** What the shop's checkout (POST /api/orders) needs: prices are the server's. */
  orderPayload() {
    return {
      lines: this.lines.map((l) => ({
        sku: l.sku,
        quantity: l.quantity,
        reservation_id: l.reservation_id,
        click_token: l.click_token,
      })),
      click_token: this.checkoutClick,
    };
  }
}
