"""Pasar: open-source live-stream shopping for any storefront."""

__version__ = "0.1.0"
