"""Every domain's tables, listed here so that ``Base.metadata`` is complete for
Alembic when this module is imported alone (``tests/db/test_migrations.py`` checks
it in a fresh interpreter). A new domain with tables adds its line here."""

from pasar.catalog import models as catalog_models
from pasar.commerce import models as commerce_models
from pasar.commerce import sales_models as commerce_sales_models
from pasar.db import idempotency as idempotency_models
from pasar.db.base import Base
from pasar.engagement import models as engagement_models
from pasar.shows import models as show_models
from pasar.vendors import models as vendor_models
from pasar.webhooks import models as webhook_models

__all__ = [
    "Base",
    "catalog_models",
    "commerce_models",
    "commerce_sales_models",
    "engagement_models",
    "idempotency_models",
    "show_models",
    "vendor_models",
    "webhook_models",
]
