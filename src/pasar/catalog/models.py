"""Catalog tables. Prices are integer minor units in the product's currency."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from pasar.db.base import Base, TenantMixin, Timestamps, parent_id


class Product(TenantMixin, Timestamps, Base):
    __tablename__ = "products"
    __table_args__ = (
        UniqueConstraint("vendor_id", "handle"),
        UniqueConstraint("vendor_id", "external_id"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    handle: Mapped[str] = mapped_column(String(120), nullable=False)
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="active")
    product_url: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    # Names of the option axes, in order ("Size", "Colour", …); any number.
    options: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    external_id: Mapped[str | None] = mapped_column(String(100), nullable=True)

    variants: Mapped[list[Variant]] = relationship(
        back_populates="product",
        order_by="Variant.position",
        cascade="all, delete-orphan",
        lazy="selectin",
    )
    images: Mapped[list[ProductImage]] = relationship(
        order_by="ProductImage.position",
        cascade="all, delete-orphan",
        lazy="selectin",
    )


class Variant(TenantMixin, Timestamps, Base):
    __tablename__ = "variants"
    __table_args__ = (UniqueConstraint("vendor_id", "sku"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    product_id: Mapped[str] = parent_id("products.id", index=True, nullable=False)
    sku: Mapped[str | None] = mapped_column(String(100), nullable=True)
    # Values in the order of Product.options.
    option_values: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    price: Mapped[int] = mapped_column(BigInteger, nullable=False)
    compare_at_price: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    stock: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    position: Mapped[int] = mapped_column(Integer, nullable=False, default=0)

    product: Mapped[Product] = relationship(back_populates="variants")

    def values_by_option(self) -> dict[str, Any]:
        return dict(zip(self.product.options, self.option_values, strict=False))


class ProductImage(TenantMixin, Timestamps, Base):
    __tablename__ = "product_images"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    product_id: Mapped[str] = parent_id("products.id", index=True, nullable=False)
    # Either a stored upload (storage_key) or an image the vendor hosts (src).
    storage_key: Mapped[str | None] = mapped_column(String(300), nullable=True)
    src: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    alt: Mapped[str] = mapped_column(String(300), nullable=False, default="")
    width: Mapped[int | None] = mapped_column(Integer, nullable=True)
    height: Mapped[int | None] = mapped_column(Integer, nullable=True)
    content_type: Mapped[str | None] = mapped_column(String(40), nullable=True)
    size_bytes: Mapped[int | None] = mapped_column(Integer, nullable=True)
    position: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
