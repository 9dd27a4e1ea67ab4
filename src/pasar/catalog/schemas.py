"""The catalog's public shapes: what the API takes and gives back."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    UrlConstraints,
    model_validator,
)

from pasar.money import MAX_MINOR
from pasar.validation import Strict

ProductStatus = Literal["active", "draft", "archived"]
Minor = Annotated[int, Field(ge=0, le=MAX_MINOR, description="Integer minor units.")]
Stock = Annotated[int, Field(ge=0, le=1_000_000_000)]
Text200 = Annotated[str, Field(min_length=1, max_length=200)]
OptionName = Annotated[str, Field(min_length=1, max_length=60)]
OptionValue = Annotated[str, Field(min_length=1, max_length=120)]
Handle = Annotated[str, Field(min_length=1, max_length=120, pattern=r"^[a-z0-9][a-z0-9-]*$")]
MAX_URL = 2000  # Product.product_url is String(2000)


def _fits_column(url: HttpUrl) -> HttpUrl:
    # Checked once normalised: an IDN host grows when it is turned into punycode.
    if len(str(url)) > MAX_URL:
        raise ValueError(f"URL should have at most {MAX_URL} characters")
    return url


ProductUrl = Annotated[HttpUrl, UrlConstraints(max_length=MAX_URL), AfterValidator(_fits_column)]


class VariantIn(Strict):
    sku: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    options: dict[OptionName, OptionValue] = Field(
        default_factory=dict,
        description="One value for each of the product's option names.",
    )
    price: Minor
    compare_at_price: Minor | None = None
    stock: Stock = 0

    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "sku": "BTK-M-BLU",
                "options": {"Size": "M", "Colour": "Blue"},
                "price": 14900000,
                "compare_at_price": 19900000,
                "stock": 25,
            }
        }
    )


class VariantPatch(Strict):
    sku: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    options: dict[OptionName, OptionValue] | None = None
    price: Minor | None = None
    compare_at_price: Minor | None = None
    stock: Stock | None = None


class ProductIn(Strict):
    title: Text200
    handle: Handle | None = Field(default=None, description="Unique per vendor; from the title.")
    description: Annotated[str, Field(max_length=20_000)] = ""
    status: ProductStatus = "active"
    product_url: ProductUrl | None = Field(
        default=None, description="The product's page on the vendor's own site."
    )
    currency: Annotated[str, Field(min_length=3, max_length=3)] | None = Field(
        default=None, description="ISO 4217; the vendor's default currency when left out."
    )
    options: Annotated[list[OptionName], Field(max_length=10)] = Field(default_factory=list)
    variants: Annotated[list[VariantIn], Field(min_length=1, max_length=250)]
    external_id: Annotated[str, Field(min_length=1, max_length=100)] | None = None

    @model_validator(mode="after")
    def _options_unique(self) -> ProductIn:
        if len({o.casefold() for o in self.options}) != len(self.options):
            raise ValueError("option names must be unique")
        return self

    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "title": "Batik Tulis Shirt",
                "description": "Hand-drawn batik from Pekalongan.",
                "product_url": "https://toko.example/products/batik-tulis-shirt",
                "currency": "IDR",
                "options": ["Size", "Colour"],
                "variants": [
                    {
                        "sku": "BTK-M-BLU",
                        "options": {"Size": "M", "Colour": "Blue"},
                        "price": 14900000,
                        "stock": 25,
                    },
                    {
                        "sku": "BTK-L-BLU",
                        "options": {"Size": "L", "Colour": "Blue"},
                        "price": 14900000,
                        "stock": 10,
                    },
                ],
            }
        }
    )


class ProductPatch(Strict):
    title: Text200 | None = None
    handle: Handle | None = None
    description: Annotated[str, Field(max_length=20_000)] | None = None
    status: ProductStatus | None = None
    product_url: ProductUrl | None = None
    external_id: Annotated[str, Field(min_length=1, max_length=100)] | None = None


class VariantOut(BaseModel):
    id: str
    sku: str | None
    title: str = Field(description="The option values joined, e.g. 'M / Blue'.")
    options: dict[str, str]
    price: int
    compare_at_price: int | None
    price_display: str = Field(description="The price formatted for the vendor's locale.")
    stock: int
    available: bool


class ImageOut(BaseModel):
    id: str
    url: str
    alt: str
    width: int | None
    height: int | None


class ProductOut(BaseModel):
    id: str
    handle: str
    title: str
    description: str
    status: ProductStatus
    product_url: str | None
    currency: str
    options: list[str]
    variants: list[VariantOut]
    images: list[ImageOut]
    external_id: str | None
    created_at: datetime
    updated_at: datetime


class ImportRowError(BaseModel):
    line: int = Field(description="1-based line (CSV) or product index + 1 (Shopify).")
    reason: str
    handle: str | None = None


class ImportReport(BaseModel):
    created: int
    updated: int
    failed: int
    atomic: bool
    errors: list[ImportRowError]
