"""The flash-sale benchmark's parts; ``bench/flash_sale.py`` runs them."""
