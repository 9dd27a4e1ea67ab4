// embed.js: `<script type="module" src="{PASAR_PUBLIC_URL}/embed.js"></script>`
// then `<pasar-live show="show_…"></pasar-live>` (docs/embed.md). Defines the
// element once, even if the page loads the script twice.

import { PasarLive } from "./player";

export { PasarLive };
export type { Layout, ProductUpdate } from "./player";
export type { AddToCart, Answer } from "./cart";
export type { CartLine, CartState, ShowDocument } from "../shared/storefront";
export type * from "./pasar-live";

if (!customElements.get("pasar-live")) customElements.define("pasar-live", PasarLive);
