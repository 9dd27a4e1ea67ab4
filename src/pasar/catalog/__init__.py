"""Products with variants and images; CSV and Shopify importers."""
