"""Toko Demo's own shop, served by `pasar demo` on a second origin (see app.py)."""

from pasar.demo.storefront.app import ShopConfig, create_storefront, origin, storefront_csp

__all__ = ["ShopConfig", "create_storefront", "origin", "storefront_csp"]
