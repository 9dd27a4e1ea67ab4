"""The demo: Toko Demo's seed data, a synthetic broadcast and the vendor's own shop
(a second origin that embeds the player), started by ``pasar demo``."""
