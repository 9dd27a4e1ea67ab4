// The checkout page: the order summary from the cart, and "Buat pesanan", which
// asks the shop's server (POST /api/orders) to price the order, confirm flash-deal
// reservations and report it to Pasar with the click tokens (attribution).

const $ = (selector, root = document) => root.querySelector(selector);

const ATTRIBUTION = {
  reservation: "flash deal di live",
  click: "klik di live",
  show: "selama live",
};

function item(text, extra) {
  const li = document.createElement("li");
  li.textContent = text;
  if (extra) {
    const small = document.createElement("span");
    small.className = "fine";
    small.textContent = ` ${extra}`;
    li.append(small);
  }
  return li;
}

export function initCheckout({ cart, money, toast, changed }) {
  const root = $("[data-checkout]");
  if (!root) return;
  const lines = $("[data-summary-lines]");
  const empty = $("[data-summary-empty]");
  const pay = $("[data-pay]");
  const total = $("[data-summary-total]");
  const error = $("[data-order-error]");
  const button = $("[data-place-order]");

  function render() {
    lines.replaceChildren(
      ...cart.lines.map((l) => {
        const li = document.createElement("li");
        const name = document.createElement("span");
        name.textContent = `${l.quantity} × ${l.title}`;
        if (l.reservation_id) {
          const tag = document.createElement("span");
          tag.className = "tag tag-deal";
          tag.textContent = "Flash deal";
          name.append(" ", tag);
        }
        const amount = document.createElement("strong");
        amount.textContent = money(l.quantity * l.unit_price);
        li.append(name, amount);
        return li;
      }),
    );
    empty.hidden = cart.lines.length > 0;
    pay.hidden = cart.lines.length === 0;
    total.textContent = money(cart.subtotal);
  }

  document.addEventListener("toko:cart-changed", render);
  render();

  function showConfirmation(order) {
    root.hidden = true;
    const done = $("[data-confirmation]");
    $("[data-order-ref]", done).textContent = order.order_ref;
    $("[data-order-total]", done).textContent = money(order.amount);
    const note = order.pasar;
    const summary = $("[data-attribution-summary]", done);
    const list = $("[data-attribution-lines]", done);
    if (note.reported) {
      const attributed = note.lines.filter((l) => l.attributed_by).length;
      summary.textContent =
        `Pesanan dilaporkan ke Pasar: ${attributed} dari ${note.lines.length} baris ` +
        "teratribusi ke live show.";
      list.replaceChildren(
        ...note.lines.map((l) =>
          item(`${l.quantity} × ${l.title}`, l.attributed_by ? `— ${ATTRIBUTION[l.attributed_by] ?? l.attributed_by}` : "— tidak dari live"),
        ),
      );
    } else {
      summary.textContent = `Pesanan tidak dilaporkan ke Pasar (${note.message}).`;
      list.replaceChildren();
    }
    done.hidden = false;
    done.scrollIntoView({ block: "start" });
  }

  button.addEventListener("click", async () => {
    error.hidden = true;
    button.disabled = true;
    button.textContent = "Memproses…";
    try {
      const response = await fetch("/api/orders", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(cart.orderPayload()),
      });
      const body = await response.json();
      if (response.ok) {
        cart.clear();
        changed();
        showConfirmation(body);
        return;
      }
      const problem = body.error ?? {};
      // A flash deal that ran out cannot be bought at its price any more: take it out.
      if (problem.details?.reservation_id) {
        cart.remove(`rsv:${problem.details.reservation_id}`);
        changed();
      }
      error.textContent = problem.message ?? "Pesanan gagal dibuat.";
      error.hidden = false;
    } catch (err) {
      console.error("Toko Demo: checkout failed", err);
      error.textContent = "Koneksi terputus. Coba lagi.";
      error.hidden = false;
    } finally {
      button.disabled = false;
      button.textContent = "Buat pesanan";
    }
    toast(error.textContent, "warn");
  });
}
