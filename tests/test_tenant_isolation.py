"""Tenant isolation: vendor A can neither see, touch nor probe vendor B's objects.

Nothing here is a hand-picked list of endpoints. The matrix is generated from the
app's routes (``fastapi.routing.iter_route_contexts``) and their OpenAPI
operations: every route under ``/api/v1`` whose path has a parameter is called, for
every method, with vendor A's key and vendor B's ids (and, where a path has several
ids, every mix of A's and B's), with a body that is valid for the object. Each call
must answer exactly what a made-up id answers: 404, never 2xx, never 403 (which
would say "it exists, just not for you"), never 5xx. B's objects, read back through
every GET route, must be byte-for-byte unchanged afterwards.

A new endpoint is covered without touching this file, as long as its path
parameters and body schema are ones the matrix knows (``PATH_PARAMS``,
``BODIES``, ``REFERENCE_FIELDS``); if they are not, ``test_isolation_matrix``
fails and names the route, so nothing can slip past silently.

``test_owner_can_make_every_matrix_call`` is the matrix's control: the same calls
with B's own key succeed, so the 404s above come from tenant scoping and not from
a malformed request.
"""

from __future__ import annotations

import hashlib
import io
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from PIL import Image

from pasar.app import create_app
from pasar.ids import new_id
from pasar.pagination import encode_cursor
from tests.conftest import MakeVendor, VendorCtx, make_settings, product_body

API = "/api/v1"
IGNORED_METHODS = frozenset({"HEAD", "OPTIONS"})
REPLAY_HEADER = "idempotent-replayed"

# Path parameter name -> the kind of object it names (a key of World.ids).
PATH_PARAMS: dict[str, str] = {
    "product_id": "product",
    "variant_id": "variant",
    "image_id": "image",
    "show_id": "show",
    "key_id": "api_key",
}

# Body fields that point at another object: field name -> kind. A `_ids` field
# takes a list. A new `*_id` / `*_ids` field must be listed here or in
# NOT_REFERENCES, or the reference test fails and names it.
REFERENCE_FIELDS: dict[str, str] = {
    "host_user_id": "staff",
    "product_ids": "product",
}
# Fields named like ids that do not point at a Pasar object.
NOT_REFERENCES = frozenset({"external_id"})  # the vendor's own id in its store

# Query parameters that could act as an oracle for another vendor's data, and
# what to probe them with (from B's world). Other query parameters are filters
# on the caller's own data and are left out.
QUERY_PROBES: dict[str, Callable[[World], str]] = {
    "sku": lambda w: w.skus[0],
    "handle": lambda w: w.handle,
    "q": lambda w: w.product_title,
    "cursor": lambda w: encode_cursor(w.ids["product"]),
}


# A body that is valid for the target vendor's objects (so that a missing tenant
# check would succeed rather than fail validation), by OpenAPI schema name. None
# of them points at another object: references are the reference test's job.
BODIES: dict[str, Callable[[World], dict[str, Any]]] = {
    "ProductIn": lambda w: product_body(
        title="Replaced by someone",
        variants=[{"sku": f"{w.tag}-R", "options": {"Size": "M"}, "price": 100, "stock": 1}],
    ),
    "ProductPatch": lambda w: {"title": "Renamed by someone", "status": "archived"},
    "VariantIn": lambda w: {
        "sku": f"{w.tag}-XL",
        "options": {"Size": "XL"},
        "price": 1_000,
        "stock": 3,
    },
    "VariantPatch": lambda w: {"stock": 99, "price": 1},
    "ShowIn": lambda w: {"title": "Another show"},
    "ShowPatch": lambda w: {"title": "Renamed show", "description": "changed"},
    "LineupIn": lambda w: {"product_ids": []},
    "TransitionIn": lambda w: {"to": "live"},
}

# Create bodies sent twice with one Idempotency-Key, once by each vendor. They are
# identical on purpose: a replay across vendors would match the fingerprint.
CREATE_BODIES: dict[str, dict[str, Any]] = {
    "ProductIn": product_body(handle="idempotency-probe"),
    "ShowIn": {"title": "Idempotency probe"},
    "ApiKeyIn": {"name": "idempotency probe", "scopes": ["catalog:read"]},
    # Staff emails are unique across vendors (sign-in is by email), so A's copy
    # answers 409 email_taken; what matters is that it is not B's replayed answer.
    "StaffIn": {
        "email": "idempotency-probe@pasar.example",
        "display_name": "Probe",
        "password": "long enough password",
        "role": "moderator",
    },
}


def png_bytes(colour: str = "red") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 6), colour).save(out, "PNG")
    return out.getvalue()


# --- the world: one vendor with one of each object --------------------------------


@dataclass
class World:
    vendor: VendorCtx
    tag: str
    ids: dict[str, str] = field(default_factory=dict)
    skus: list[str] = field(default_factory=list)
    handle: str = ""
    product_title: str = ""
    show_title: str = ""
    stream_key: str = ""
    key_prefix: str = ""

    @property
    def headers(self) -> dict[str, str]:
        return self.vendor.headers

    def secrets(self) -> dict[str, str]:
        """Every string that identifies this vendor's data: none may reach another vendor."""
        out = {f"id of {kind}": value for kind, value in self.ids.items()}
        out |= {f"sku {s}": s for s in self.skus}
        out |= {
            "handle": self.handle,
            "product title": self.product_title,
            "show title": self.show_title,
            "stream key": self.stream_key,
            "API key prefix": self.key_prefix,
            "vendor slug": self.vendor.slug,
        }
        return out


async def _ok(response: httpx.Response) -> Any:
    assert response.is_success, f"{response.request.method} {response.request.url}: {response.text}"
    return response.json()


async def build_world(client: httpx.AsyncClient, vendor: VendorCtx, tag: str) -> World:
    """Create one of each object through the API, with the vendor's own key."""
    h = vendor.headers
    w = World(vendor=vendor, tag=tag, ids={"vendor": vendor.id})
    staff = await _ok(
        await client.post(
            f"{API}/staff",
            json={
                "email": f"host-{tag}@{vendor.slug}.example",
                "display_name": f"Host {tag}",
                "password": "long enough password",
                "role": "host",
            },
            headers={**h, "Idempotency-Key": f"staff-{tag}"},
        )
    )
    w.ids["staff"] = staff["id"]
    w.handle, w.product_title = f"{tag}-kemeja", f"{tag} Kemeja Batik"
    w.skus = [f"{tag}-m", f"{tag}-l"]
    product = await _ok(
        await client.post(
            f"{API}/products",
            json=product_body(
                title=w.product_title,
                handle=w.handle,
                variants=[
                    {"sku": w.skus[0], "options": {"Size": "M"}, "price": 38_900_000, "stock": 5},
                    {"sku": w.skus[1], "options": {"Size": "L"}, "price": 38_900_000, "stock": 2},
                ],
            ),
            headers={**h, "Idempotency-Key": f"product-{tag}"},
        )
    )
    w.ids["product"] = product["id"]
    w.ids["variant"] = product["variants"][0]["id"]
    w.ids["other_variant"] = product["variants"][1]["id"]
    with_image = await _ok(
        await client.post(
            f"{API}/products/{product['id']}/images",
            files={"file": ("front.png", png_bytes(), "image/png")},
            data={"alt": "front"},
            headers=h,
        )
    )
    w.ids["image"] = with_image["images"][0]["id"]
    w.show_title = f"{tag} Live"
    show = await _ok(
        await client.post(
            f"{API}/shows",
            json={
                "title": w.show_title,
                "scheduled_at": "2030-01-01T12:00:00Z",
                "host_user_id": w.ids["staff"],
                "product_ids": [w.ids["product"]],
            },
            headers={**h, "Idempotency-Key": f"show-{tag}"},
        )
    )
    w.ids["show"] = show["id"]
    await _ok(
        await client.post(
            f"{API}/shows/{show['id']}/cover",
            files={"file": ("cover.png", png_bytes("blue"), "image/png")},
            headers=h,
        )
    )
    w.stream_key = (await _ok(await client.get(f"{API}/shows/{show['id']}/ingest", headers=h)))[
        "stream_key"
    ]
    key = await _ok(
        await client.post(
            f"{API}/api-keys",
            json={"name": f"{tag} sync", "scopes": ["catalog:read"]},
            headers={**h, "Idempotency-Key": f"key-{tag}"},
        )
    )
    w.ids["api_key"] = key["id"]
    w.key_prefix = key["prefix"]
    return w


# --- discovering the matrix from the app ------------------------------------------


@dataclass(frozen=True)
class Body:
    kind: str  # "json" or "multipart"
    schema: str = ""  # the JSON body's schema name
    files: tuple[str, ...] = ()  # the multipart body's file fields


@dataclass(frozen=True)
class Entry:
    method: str
    path: str
    params: tuple[str, ...]
    body: Body | None
    operation: dict[str, Any] = field(compare=False, hash=False, repr=False)

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"


def _route_contexts(app: FastAPI) -> Iterator[Any]:
    """Every route with its full path, including those of included routers."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # FastAPI before lazily included routers: app.routes is flat
        yield from app.routes
        return
    yield from iter_route_contexts(app.routes)


def _ref_name(schema: dict[str, Any]) -> str:
    return str(schema.get("$ref", "")).rsplit("/", 1)[-1]


def _is_file(prop: dict[str, Any]) -> bool:
    return prop.get("format") == "binary" or "contentMediaType" in prop


def _body_of(
    openapi: dict[str, Any], op: dict[str, Any], label: str, gaps: list[str]
) -> Body | None:
    content = op.get("requestBody", {}).get("content")
    if not content:
        return None
    if "application/json" in content:
        name = _ref_name(content["application/json"]["schema"])
        if name not in BODIES:
            gaps.append(f"{label}: no body for schema {name or '(inline)'}; add it to BODIES")
        return Body("json", schema=name)
    if "multipart/form-data" in content:
        schema = openapi["components"]["schemas"][
            _ref_name(content["multipart/form-data"]["schema"])
        ]
        props: dict[str, Any] = schema.get("properties", {})
        files = tuple(n for n, p in props.items() if _is_file(p))
        others = [n for n in schema.get("required", []) if n not in files]
        if others or not files:
            gaps.append(f"{label}: cannot fill multipart fields {others or sorted(props)}")
        return Body("multipart", files=files)
    gaps.append(f"{label}: cannot build a {sorted(content)} body")
    return None


def discover(app: FastAPI) -> tuple[list[Entry], list[str]]:
    """Every (method, path) under /api/v1 with a path parameter; and the routes the
    matrix cannot call, each with the reason."""
    openapi = app.openapi()
    entries: list[Entry] = []
    gaps: list[str] = []
    for rc in _route_contexts(app):
        path = getattr(rc, "path_format", None) or getattr(rc, "path", "") or ""
        if not path.startswith(API + "/"):
            continue
        params = tuple(getattr(rc, "param_convertors", {}) or ())
        if not params:
            continue
        original = getattr(rc, "original_route", rc)
        if not isinstance(original, APIRoute):
            gaps.append(f"{type(original).__name__} {path}: not an HTTP API route")
            continue
        unknown = [p for p in params if p not in PATH_PARAMS]
        for method in sorted(set(rc.methods or ()) - IGNORED_METHODS):
            label = f"{method} {path}"
            if unknown:
                gaps.append(f"{label}: unknown path parameter(s) {unknown}; add to PATH_PARAMS")
                continue
            op = openapi["paths"].get(path, {}).get(method.lower())
            if op is None:  # include_in_schema=False: only a body-less route can be called
                if original.dependant.body_params:
                    gaps.append(f"{label}: hidden from OpenAPI and takes a body")
                    continue
                op, body = {}, None
            else:
                body = _body_of(openapi, op, label, gaps)
            entries.append(Entry(method, path, params, body, op))
    order = {"GET": 0, "DELETE": 2}
    entries.sort(key=lambda e: (order.get(e.method, 1), -len(e.params), e.path, e.method))
    return entries, gaps


def request_kwargs(entry: Entry, body_world: World) -> dict[str, Any]:
    if entry.body is None:
        return {}
    if entry.body.kind == "json":
        return {"json": BODIES[entry.body.schema](body_world)}
    return {"files": {n: (f"{n}.png", png_bytes("green"), "image/png") for n in entry.body.files}}


def fill(path: str, values: dict[str, str]) -> str:
    for name, value in values.items():
        path = path.replace("{" + name + "}", value)
    return path


def made_up_id(real: str) -> str:
    """A well-formed id of the same kind that names nothing."""
    return new_id(real.rsplit("_", 1)[0])


# --- reading a vendor's view of the world -----------------------------------------


def _without_volatile(value: Any) -> Any:
    # last_used_at moves when the owner's own key is used (at most once a minute),
    # which no other vendor can cause; everything else must stay put.
    if isinstance(value, dict):
        return {k: _without_volatile(v) for k, v in value.items() if k != "last_used_at"}
    if isinstance(value, list):
        return [_without_volatile(v) for v in value]
    return value


def _urls(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for v in value.values():
            yield from _urls(v)
    elif isinstance(value, list):
        for v in value:
            yield from _urls(v)
    elif isinstance(value, str) and value.startswith("http://testserver/media/"):
        yield value


def get_routes(app: FastAPI) -> list[tuple[str, tuple[str, ...]]]:
    out = []
    for rc in _route_contexts(app):
        path = getattr(rc, "path_format", None) or getattr(rc, "path", "") or ""
        if path.startswith(API + "/") and "GET" in (getattr(rc, "methods", None) or ()):
            out.append((path, tuple(getattr(rc, "param_convertors", {}) or ())))
    return out


async def snapshot(app: FastAPI, client: httpx.AsyncClient, w: World) -> dict[str, Any]:
    """What the vendor sees through every GET route (its own ids filled in), plus the
    bytes of every media file those answers point at."""
    views: dict[str, Any] = {}
    for path, params in get_routes(app):
        if any(p not in PATH_PARAMS for p in params):
            continue  # discover() reports these
        url = fill(path, {p: w.ids[PATH_PARAMS[p]] for p in params})
        r = await client.get(url, headers=w.headers)
        views[url] = (r.status_code, _without_volatile(r.json()))
    for url in sorted({u for _, body in views.values() for u in _urls(body)}):
        r = await client.get(url)
        views[url] = (r.status_code, hashlib.sha256(r.content).hexdigest())
    return views


async def everything_seen_by(
    app: FastAPI, client: httpx.AsyncClient, viewer: World, other: World
) -> dict[str, str]:
    """The viewer's answers from every GET route under /api/v1: lists (plain and with
    each oracle-ish query parameter set to the other vendor's values) and its own
    objects."""
    openapi = app.openapi()
    seen: dict[str, str] = {}
    for path, params in get_routes(app):
        if any(p not in PATH_PARAMS for p in params):
            continue
        url = fill(path, {p: viewer.ids[PATH_PARAMS[p]] for p in params})
        queries: list[dict[str, str]] = [{}]
        for param in openapi["paths"].get(path, {}).get("get", {}).get("parameters", []):
            if param["in"] != "query":
                continue
            name = param["name"]
            if name in QUERY_PROBES:
                queries.append({name: QUERY_PROBES[name](other)})
            elif name in PATH_PARAMS:
                queries.append({name: other.ids[PATH_PARAMS[name]]})
            elif name.endswith(("_id", "_ids")):
                pytest.fail(
                    f"GET {path}: query parameter {name} looks like a reference; "
                    "add it to PATH_PARAMS or QUERY_PROBES"
                )
        for query in queries:
            r = await client.get(url, params=query, headers=viewer.headers)
            assert r.status_code < 500, f"GET {url} {query}: {r.status_code} {r.text}"
            seen[f"GET {url} {query}"] = r.text
    return seen


def leaks(seen: dict[str, str], other: World) -> list[str]:
    return [
        f"{where} shows the other vendor's {what} ({value})"
        for where, text in seen.items()
        for what, value in other.secrets().items()
        if value and value in text
    ]


# --- the tests --------------------------------------------------------------------


@pytest.fixture
async def worlds(client: httpx.AsyncClient, make_vendor: MakeVendor) -> tuple[World, World]:
    a = await build_world(client, await make_vendor(slug="tenant-a"), "alpha")
    b = await build_world(client, await make_vendor(slug="tenant-b"), "beta")
    return a, b


def test_discovery_refuses_routes_it_cannot_fill(tmp_path: Any) -> None:
    """The matrix fails loudly on a route it does not know how to call."""
    app = create_app(make_settings(f"sqlite+aiosqlite:///{tmp_path}/x.db", tmp_path / "data"))
    entries, gaps = discover(app)
    assert gaps == []
    labels = {e.label for e in entries}
    assert "GET /api/v1/products/{product_id}" in labels  # discovery sees included routers
    assert "DELETE /api/v1/api-keys/{key_id}" in labels

    @app.get(f"{API}/widgets/{{widget_id}}")
    async def widget(widget_id: str) -> dict[str, str]:
        return {}

    @app.websocket(f"{API}/shows/{{show_id}}/chat")
    async def chat(show_id: str) -> None:
        return None

    app.openapi_schema = None
    _, gaps = discover(app)
    assert any("/widgets/{widget_id}" in g and "widget_id" in g for g in gaps), gaps
    assert any("/shows/{show_id}/chat" in g for g in gaps), gaps


async def test_isolation_matrix(
    app: FastAPI, client: httpx.AsyncClient, worlds: tuple[World, World]
) -> None:
    a, b = worlds
    entries, gaps = discover(app)
    assert not gaps, "the isolation matrix cannot call these routes:\n" + "\n".join(gaps)
    assert entries, "no route with an id parameter was found: is discovery broken?"
    before = await snapshot(app, client, b)

    failures: list[str] = []
    calls = 0
    for entry in entries:
        # Every way to mix the two vendors' ids with at least one of B's.
        for owners in itertools.product((a, b), repeat=len(entry.params)):
            if b not in owners:
                continue
            real = {p: w.ids[PATH_PARAMS[p]] for p, w in zip(entry.params, owners, strict=True)}
            fake = {
                p: made_up_id(v) if w is b else v
                for (p, v), w in zip(real.items(), owners, strict=True)
            }
            body = request_kwargs(entry, owners[0])
            url = fill(entry.path, real)
            got = await client.request(entry.method, url, headers=a.headers, **body)
            control = await client.request(
                entry.method,
                fill(entry.path, fake),
                headers=a.headers,
                **request_kwargs(entry, owners[0]),
            )
            calls += 1
            mix = ", ".join(
                f"{p}={'B' if w is b else 'A'}" for p, w in zip(entry.params, owners, strict=True)
            )
            where = f"{entry.label} [{mix}]"
            if got.status_code != 404:
                failures.append(f"{where}: {got.status_code} {got.text[:300]}")
            elif (got.status_code, got.json()) != (control.status_code, control.json()):
                failures.append(
                    f"{where}: answers differently for B's id than for a made-up one: "
                    f"{got.text[:200]} vs {control.status_code} {control.text[:200]}"
                )
    assert not failures, f"{len(failures)} of {calls} cross-vendor calls:\n" + "\n".join(failures)

    after = await snapshot(app, client, b)
    changed = [k for k in before.keys() | after.keys() if before.get(k) != after.get(k)]
    assert not changed, f"B's objects changed under A's calls: {sorted(changed)}"


async def test_owner_can_make_every_matrix_call(
    app: FastAPI, client: httpx.AsyncClient, make_vendor: MakeVendor
) -> None:
    """The control: each matrix call, by the owner on a fresh world of its own,
    succeeds; so the matrix's bodies are valid and its 404s mean "not yours"."""
    owner = await make_vendor(slug="tenant-owner")
    entries, gaps = discover(app)
    assert not gaps
    failures = []
    for n, entry in enumerate(entries):
        w = await build_world(client, owner, f"own{n}")
        url = fill(entry.path, {p: w.ids[PATH_PARAMS[p]] for p in entry.params})
        r = await client.request(
            entry.method, url, headers=owner.headers, **request_kwargs(entry, w)
        )
        if not r.is_success:
            failures.append(f"{entry.label}: {r.status_code} {r.text[:300]}")
    assert not failures, "\n".join(failures)


def _reference_fields(openapi: dict[str, Any], schema: dict[str, Any], where: str) -> Iterator[str]:
    """Top-level body fields that name another object; fails on any it cannot place."""
    schemas = openapi["components"]["schemas"]
    for name, prop in schema.get("properties", {}).items():
        if name in REFERENCE_FIELDS:
            yield name
        elif name.endswith(("_id", "_ids")) and name not in NOT_REFERENCES:
            pytest.fail(
                f"{where}: body field {name} looks like a reference; "
                "add it to REFERENCE_FIELDS or NOT_REFERENCES"
            )
        else:
            nested = [prop, *prop.get("anyOf", []), prop.get("items", {})]
            for sub in nested:
                ref = _ref_name(sub) or _ref_name(sub.get("items", {}))
                if ref:
                    for inner in _reference_fields(openapi, schemas[ref], f"{where}.{name}"):
                        pytest.fail(f"{where}.{name}.{inner}: nested references are not probed yet")


async def test_bodies_cannot_point_at_another_vendors_objects(
    app: FastAPI, client: httpx.AsyncClient, worlds: tuple[World, World]
) -> None:
    """Every body field that names an object (a show's host, its line-up …) refuses
    B's ids when A sends them, and accepts A's own (the control)."""
    a, b = worlds
    openapi = app.openapi()
    probed, failures = 0, []
    for path, ops in openapi["paths"].items():
        if not path.startswith(API + "/"):
            continue
        for method, op in ops.items():
            content = op.get("requestBody", {}).get("content", {})
            if "application/json" not in content:
                continue
            name = _ref_name(content["application/json"]["schema"])
            schema = openapi["components"]["schemas"].get(name, {})
            for ref_field in _reference_fields(openapi, schema, f"{method.upper()} {path}"):
                if name not in BODIES:
                    pytest.fail(f"{method.upper()} {path}: no body for {name}; add it to BODIES")
                params = [p["name"] for p in op.get("parameters", []) if p["in"] == "path"]
                url = fill(path, {p: a.ids[PATH_PARAMS[p]] for p in params})
                kind = REFERENCE_FIELDS[ref_field]

                base = BODIES[name](a)

                def with_ref(
                    w: World, ref_field: str = ref_field, kind: str = kind, base: Any = base
                ) -> dict[str, Any]:
                    value = w.ids[kind]
                    return {**base, ref_field: [value] if ref_field.endswith("_ids") else value}

                probed += 1
                got = await client.request(method, url, json=with_ref(b), headers=a.headers)
                if got.status_code not in (400, 404, 422):
                    failures.append(
                        f"{method.upper()} {path} with B's {ref_field}: "
                        f"{got.status_code} {got.text[:300]}"
                    )
                own = await client.request(method, url, json=with_ref(a), headers=a.headers)
                if not own.is_success:
                    failures.append(
                        f"{method.upper()} {path} with A's own {ref_field} (control): "
                        f"{own.status_code} {own.text[:300]}"
                    )
    assert probed, "no body field references another object: is discovery broken?"
    assert not failures, "\n".join(failures)
    assert not leaks(await everything_seen_by(app, client, a, b), b)


async def test_lists_never_show_another_vendors_objects(
    app: FastAPI, client: httpx.AsyncClient, worlds: tuple[World, World]
) -> None:
    """Every GET under /api/v1 with A's key (lists plain and with B's SKU, handle,
    title or a cursor made from B's id; A's own objects) holds nothing of B's; and
    the same views of B do hold B's things (the control)."""
    a, b = worlds
    assert not leaks(await everything_seen_by(app, client, a, b), b)
    assert not leaks(await everything_seen_by(app, client, b, a), a)
    own = "\n".join((await everything_seen_by(app, client, b, a)).values())
    for what in ("id of product", "id of show", "id of api_key", "id of staff", "id of image"):
        assert b.secrets()[what] in own, f"B's own views do not show its {what}"


async def test_idempotency_keys_are_per_vendor(
    app: FastAPI, client: httpx.AsyncClient, worlds: tuple[World, World]
) -> None:
    """A's POST with the Idempotency-Key and body B already used is A's own request:
    never B's remembered answer, never a 'key reused' conflict."""
    a, b = worlds
    openapi = app.openapi()
    probed, failures = 0, []
    for path, ops in openapi["paths"].items():
        op = ops.get("post")
        if not path.startswith(API + "/") or op is None or "{" in path:
            continue
        if not any(p["name"].lower() == "idempotency-key" for p in op.get("parameters", [])):
            continue
        name = _ref_name(op["requestBody"]["content"]["application/json"]["schema"])
        if name not in CREATE_BODIES:
            pytest.fail(f"POST {path}: no create body for {name}; add it to CREATE_BODIES")
        key = {"Idempotency-Key": f"probe-{name}"}
        first = await client.post(path, json=CREATE_BODIES[name], headers={**b.headers, **key})
        assert first.status_code == 201, first.text
        second = await client.post(path, json=CREATE_BODIES[name], headers={**a.headers, **key})
        probed += 1
        b_id = first.json()["id"]
        if (
            second.headers.get(REPLAY_HEADER)
            or b_id in second.text
            or second.status_code >= 500
            or (second.status_code == 409 and "idempotency" in second.text)
        ):
            failures.append(f"POST {path}: {second.status_code} {second.text[:300]}")
    assert probed >= 2, "too few idempotent create routes found: is discovery broken?"
    assert not failures, "\n".join(failures)
