"""Catalog importers: each parses a file into candidate products, then ``run_import``
upserts them by handle. A bad product is reported with its line and reason and
the rest still imports, unless the import is atomic."""

from pasar.catalog.importers.base import Candidate, ImportResult, finish_import, run_import
from pasar.catalog.importers.csv import parse_csv
from pasar.catalog.importers.shopify import parse_shopify

__all__ = ["Candidate", "ImportResult", "finish_import", "parse_csv", "parse_shopify", "run_import"]
