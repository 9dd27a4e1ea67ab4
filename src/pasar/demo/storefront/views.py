"""Toko Demo's pages, rendered on the server from the shop's own catalogue.

This is the *vendor's* site, not Pasar's: its words are the shop's own, in
Indonesian as a shop in Indonesia writes them, and do not come from Pasar's
catalogues (frontend/shared/i18n), which are for the player. Every value from
data goes through ``e()``: product titles and descriptions are text, never HTML.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence

from pasar.demo.catalogue import CURRENCY, ShopProduct
from pasar.money import format_money

LOCALE = "id_ID"


def e(value: object) -> str:
    return html.escape(str(value), quote=True)


def money(minor: int, currency: str = CURRENCY) -> str:
    """Server-rendered price; shop.js re-formats it with Intl like the cart's."""
    return (
        f'<span data-money="{minor}" data-currency="{e(currency)}">'
        f"{e(format_money(minor, currency, LOCALE))}</span>"
    )


def _discount(p: ShopProduct) -> int | None:
    if p.compare_at is None or p.compare_at <= p.price:
        return None
    return round(100 * (p.compare_at - p.price) / p.compare_at)


def price_block(p: ShopProduct, *, size: str = "") -> str:
    multiple = len({v.price for v in p.variants}) > 1
    was = f' <s class="was">{money(p.compare_at)}</s>' if p.compare_at and _discount(p) else ""
    prefix = '<span class="from">mulai</span> ' if multiple else ""
    return f'<p class="price {size}">{prefix}<strong>{money(p.price)}</strong>{was}</p>'


CART_ICON = (
    '<svg aria-hidden="true" viewBox="0 0 24 24" width="22" height="22" fill="none" '
    'stroke="currentColor" stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round">'
    '<path d="M5 7h14l-1.3 10.2a2 2 0 0 1-2 1.8H8.3a2 2 0 0 1-2-1.8z"/>'
    '<path d="M9 7V6a3 3 0 0 1 6 0v1"/></svg>'
)


def _head(title: str, pasar_url: str) -> str:
    # The player is one module script from Pasar's origin; the shop's own code is
    # a module from this origin. No inline script anywhere (the CSP forbids it).
    return f"""<!doctype html>
<html lang="id">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{e(title)}</title>
<meta name="description" content="Toko Demo: batik tulis, kopi, sambal dan kebutuhan harian. Belanja langsung dari live show kami.">
<meta name="theme-color" content="#a4492b">
<link rel="icon" href="/static/logo.svg" type="image/svg+xml">
<link rel="stylesheet" href="/static/shop.css">
<script type="module" src="{e(pasar_url.rstrip("/"))}/embed.js"></script>
<script type="module" src="/static/shop.js"></script>
</head>"""  # noqa: E501


def _header() -> str:
    return f"""<a class="skip" href="#main">Langsung ke isi</a>
<header class="topbar">
  <div class="wrap topbar-inner">
    <a class="brand" href="/">
      <img src="/static/logo.svg" alt="" width="36" height="36">
      <span class="brand-name">Toko Demo</span>
    </a>
    <nav class="nav" aria-label="Menu utama">
      <a href="/#live">Live</a>
      <a href="/#produk">Produk</a>
    </nav>
    <button class="cart-button" type="button" data-cart-open aria-controls="cart"
            aria-expanded="false">
      {CART_ICON}<span class="cart-label">Keranjang</span>
      <span class="cart-badge" data-cart-count hidden>0</span>
    </button>
  </div>
</header>
<p class="announce">Gratis ongkir se-Jawa untuk belanja di atas Rp150.000 · Flash deal di setiap live</p>"""  # noqa: E501


def _footer() -> str:
    return """<footer class="footer">
  <div class="wrap footer-inner">
    <div>
      <p class="brand-name">Toko Demo</p>
      <p>Jl. Malioboro No. 12, Yogyakarta · Buka setiap hari 09.00–21.00</p>
    </div>
    <p class="fine">Toko contoh untuk mencoba Pasar: tidak ada pembayaran atau pengiriman
      sungguhan. Live show ditayangkan oleh Pasar dari domain lain.</p>
  </div>
</footer>
<div class="scrim" data-cart-scrim hidden></div>
<aside class="drawer" id="cart" aria-label="Keranjang belanja" aria-hidden="true" inert>
  <div class="drawer-head">
    <h2>Keranjang</h2>
    <button class="icon-button" type="button" data-cart-close aria-label="Tutup keranjang">✕</button>
  </div>
  <ul class="drawer-lines" data-cart-lines></ul>
  <div class="drawer-empty" data-cart-empty>
    <p>Keranjangmu masih kosong.</p>
    <p class="fine">Tambah dari daftar produk, atau langsung dari live show.</p>
  </div>
  <div class="drawer-foot" data-cart-foot hidden>
    <p class="subtotal"><span>Subtotal</span> <strong data-cart-subtotal></strong></p>
    <a class="btn btn-primary btn-block" href="/checkout">Checkout</a>
  </div>
</aside>
<div class="toast" data-toast role="status" aria-live="polite" hidden></div>"""  # noqa: E501


def layout(title: str, pasar_url: str, body: str, *, page: str) -> str:
    return (
        f'{_head(title, pasar_url)}\n<body data-page="{e(page)}">\n{_header()}\n'
        f'<main id="main">\n{body}\n</main>\n{_footer()}\n</body>\n</html>\n'
    )


def _add_control(p: ShopProduct) -> str:
    if not p.in_stock:
        return '<span class="btn btn-ghost" aria-disabled="true">Stok habis</span>'
    if len(p.variants) == 1:
        v = p.variants[0]
        return (
            f'<button class="btn btn-add" type="button" data-add-sku="{e(v.sku)}">'
            f'+ Keranjang<span class="visually-hidden">: {e(p.title)}</span></button>'
        )
    axis = p.options[0].lower() if p.options else "varian"
    return f'<a class="btn btn-ghost" href="/products/{e(p.handle)}">Pilih {e(axis)}</a>'


def product_card(p: ShopProduct) -> str:
    off = _discount(p)
    badge = f'<span class="badge">-{off}%</span>' if off else ""
    return f"""<li class="card">
  <a class="card-link" href="/products/{e(p.handle)}">
    <span class="card-media">
      <img src="/images/{e(p.handle)}.jpg" alt="{e(p.title)}" width="800" height="800" loading="lazy">
      {badge}
    </span>
    <span class="card-title">{e(p.title)}</span>
  </a>
  {price_block(p)}
  {_add_control(p)}
</li>"""  # noqa: E501


def grid(products: Iterable[ShopProduct]) -> str:
    return '<ul class="grid">\n' + "\n".join(product_card(p) for p in products) + "\n</ul>"


def player(vendor_slug: str, layout: str) -> str:
    # cart="page": this shop keeps its own cart; the player asks it through events.
    return (
        f'<pasar-live vendor="{e(vendor_slug)}" cart="page" locale="id" '
        f'layout="{e(layout)}"></pasar-live>'
    )


def home(products: Sequence[ShopProduct], *, pasar_url: str, vendor_slug: str) -> str:
    body = f"""<section class="live" id="live" aria-labelledby="live-title">
  <div class="wrap live-inner">
    <div class="live-head">
      <p class="eyebrow"><span class="dot" aria-hidden="true"></span> Live sekarang</p>
      <h1 id="live-title">Belanja langsung dari studio kami</h1>
    </div>
    <div class="live-player">{player(vendor_slug, "inline")}</div>
    <div class="live-copy">
      <p class="lede">Tanya ukuran, lihat bahan dari dekat, dan rebut flash deal selama siaran.
        Yang kamu masukkan ke keranjang di video langsung masuk ke keranjang toko, dan
        sebaliknya.</p>
      <ul class="perks">
        <li>Flash deal setiap 15 menit</li>
        <li>Satu keranjang, di video dan di toko</li>
        <li>Bayar aman di Toko Demo</li>
      </ul>
    </div>
  </div>
</section>
<section class="products" id="produk" aria-labelledby="produk-title">
  <div class="wrap">
    <div class="section-head">
      <h2 id="produk-title">Produk pilihan</h2>
      <p>Dari pengrajin dan produsen kecil di seluruh Nusantara.</p>
    </div>
    {grid(products)}
  </div>
</section>"""
    return layout("Toko Demo · Live shopping", pasar_url, body, page="home")


def _variant_picker(p: ShopProduct) -> str:
    if len(p.variants) == 1:
        return f'<input type="hidden" name="sku" value="{e(p.variants[0].sku)}">'
    legend = " / ".join(p.options) or "Varian"
    first = next((v for v in p.variants if v.stock > 0), None)
    chips = []
    for v in p.variants:
        checked = " checked" if v is first else ""
        disabled = " disabled" if v.stock <= 0 else ""
        chips.append(
            f'<label class="chip"><input type="radio" name="sku" value="{e(v.sku)}"'
            f' data-price="{v.price}"{checked}{disabled}><span>{e(v.title)}</span></label>'
        )
    return (
        f'<fieldset class="variants"><legend>{e(legend)}</legend>'
        f'<div class="chips">{"".join(chips)}</div></fieldset>'
    )


def product_page(
    p: ShopProduct, others: Sequence[ShopProduct], *, pasar_url: str, vendor_slug: str
) -> str:
    stock = sum(v.stock for v in p.variants)
    stock_note = (
        "Stok habis"
        if stock <= 0
        else (f"Tinggal {stock} lagi" if stock <= 20 else "Stok tersedia, dikirim hari ini")
    )
    body = f"""<div class="wrap product">
  <nav class="crumbs" aria-label="Lokasi"><a href="/">Beranda</a> <span aria-hidden="true">›</span>
    <a href="/#produk">Produk</a> <span aria-hidden="true">›</span> <span>{e(p.title)}</span></nav>
  <div class="product-inner">
    <div class="product-media">
      <img src="/images/{e(p.handle)}.jpg" alt="{e(p.title)}" width="800" height="800">
    </div>
    <div class="product-info">
      <h1>{e(p.title)}</h1>
      {price_block(p, size="price-lg")}
      <form class="buy" data-buy>
        {_variant_picker(p)}
        <div class="buy-row">
          <label class="qty">Jumlah
            <input type="number" name="quantity" value="1" min="1" max="10" inputmode="numeric">
          </label>
          <button class="btn btn-primary" type="submit"{" disabled" if stock <= 0 else ""}>Tambah ke keranjang</button>
        </div>
      </form>
      <p class="stock">{e(stock_note)}</p>
      <div class="description">
        <h2>Deskripsi</h2>
        <p>{e(p.description)}</p>
      </div>
      <ul class="assurances">
        <li>Dikirim dari Yogyakarta</li>
        <li>Retur 7 hari</li>
        <li>Bayar transfer, QRIS atau COD</li>
      </ul>
      <p class="live-hint"><span class="dot" aria-hidden="true"></span> Live show tetap
        berjalan di pojok layar: belanja sambil menonton.</p>
    </div>
  </div>
  <section class="more" aria-labelledby="more-title">
    <h2 id="more-title">Produk lainnya</h2>
    {grid(others)}
  </section>
</div>
{player(vendor_slug, "floating")}"""  # noqa: E501
    return layout(f"{p.title} · Toko Demo", pasar_url, body, page="product")


def checkout_page(*, pasar_url: str) -> str:
    body = """<div class="wrap checkout">
  <h1>Checkout</h1>
  <div class="checkout-inner" data-checkout>
    <section class="panel" aria-labelledby="summary-title">
      <h2 id="summary-title">Ringkasan pesanan</h2>
      <ul class="summary-lines" data-summary-lines></ul>
      <p class="drawer-empty" data-summary-empty>Keranjangmu masih kosong.
        <a href="/#produk">Lihat produk</a></p>
    </section>
    <section class="panel" aria-labelledby="pay-title" data-pay hidden>
      <h2 id="pay-title">Pembayaran</h2>
      <fieldset class="variants">
        <legend>Metode</legend>
        <div class="chips">
          <label class="chip"><input type="radio" name="method" value="qris" checked><span>QRIS</span></label>
          <label class="chip"><input type="radio" name="method" value="transfer"><span>Transfer bank</span></label>
          <label class="chip"><input type="radio" name="method" value="cod"><span>COD</span></label>
        </div>
      </fieldset>
      <p class="subtotal"><span>Total</span> <strong data-summary-total></strong></p>
      <button class="btn btn-primary btn-block" type="button" data-place-order>Buat pesanan</button>
      <p class="form-error" data-order-error role="alert" hidden></p>
      <p class="fine">Toko contoh: tidak ada pembayaran sungguhan.</p>
    </section>
  </div>
  <section class="panel confirmation" data-confirmation hidden aria-live="polite">
    <h2>Terima kasih!</h2>
    <p>Pesanan <strong data-order-ref></strong> sudah kami terima, total
      <strong data-order-total></strong>.</p>
    <div class="demo-note">
      <p class="eyebrow">Catatan demo: atribusi Pasar</p>
      <p data-attribution-summary></p>
      <ul data-attribution-lines></ul>
    </div>
    <a class="btn btn-ghost" href="/">Kembali belanja</a>
  </section>
</div>"""  # noqa: E501
    return layout("Checkout · Toko Demo", pasar_url, body, page="checkout")


def not_found(*, pasar_url: str) -> str:
    body = """<div class="wrap notfound">
  <h1>Halaman tidak ditemukan</h1>
  <p>Produk ini mungkin sudah tidak dijual. <a href="/#produk">Lihat produk lainnya</a>.</p>
</div>"""
    return layout("Tidak ditemukan · Toko Demo", pasar_url, body, page="notfound")


__all__ = ["checkout_page", "home", "not_found", "product_page"]
