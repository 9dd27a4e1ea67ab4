"""The SigV4 signer against AWS's published examples, not only "the emulator took it".

Two sources, both with AWS's documented example credentials:
- the Signature Version 4 test suite (``get-vanilla`` and friends: service
  ``service``, 2015-08-30T12:36:00Z), as reproduced in the IAM user guide;
- the S3 API reference, "Signature calculations for the Authorization header:
  transferring payload in a single chunk" (GET Object with a Range, PUT Object,
  GET Bucket lifecycle, ListObjects), 2013-05-24.

Then botocore (in the dev extras, through moto) signs random S3 requests and
must agree with ours byte for byte.
"""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from pasar.storage.sigv4 import (
    EMPTY_SHA256,
    Signer,
    canonical_query,
    sha256_hex,
    uri_encode,
)

SUITE = Signer("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "us-east-1", "service")
SUITE_AT = datetime(2015, 8, 30, 12, 36, tzinfo=UTC)
SUITE_HOST = {"Host": "example.amazonaws.com"}

S3 = Signer("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "us-east-1")
S3_AT = datetime(2013, 5, 24, tzinfo=UTC)
S3_HOST = "examplebucket.s3.amazonaws.com"


def _signature(headers: dict[str, str]) -> str:
    return headers["authorization"].rsplit("Signature=", 1)[1]


# -- the SigV4 test suite ---------------------------------------------------------


def test_get_vanilla_step_by_step() -> None:
    canonical, signed = Signer.canonical_request(
        "GET", "/", "", {**SUITE_HOST, "X-Amz-Date": "20150830T123600Z"}, EMPTY_SHA256
    )
    assert canonical == (
        "GET\n/\n\n"
        "host:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
        "host;x-amz-date\n"
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )
    assert signed == "host;x-amz-date"
    assert SUITE.string_to_sign("20150830T123600Z", canonical) == (
        "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
        "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63"
    )
    headers = SUITE.sign("GET", "/", "", SUITE_HOST, EMPTY_SHA256, SUITE_AT)
    assert headers["x-amz-date"] == "20150830T123600Z"
    assert headers["authorization"] == (
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
        "SignedHeaders=host;x-amz-date, "
        "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
    )


def test_suite_vectors() -> None:
    unreserved = "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    cases = {
        # name: (method, query pairs, signature)
        "post-vanilla": (
            "POST",
            [],
            "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
        ),
        "get-vanilla-empty-query-key": (
            "GET",
            [("Param1", "value1")],
            "a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb",
        ),
        "get-vanilla-query-order-key-case": (
            "GET",
            [("Param2", "value2"), ("Param1", "value1")],
            "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
        ),
        "get-vanilla-query-unreserved": (
            "GET",
            [(unreserved, unreserved)],
            "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197",
        ),
        "get-vanilla-utf8-query": (
            "GET",
            [("ሴ", "bar")],
            "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04",
        ),
    }
    for name, (method, query, want) in cases.items():
        headers = SUITE.sign(
            method, "/", canonical_query(query), SUITE_HOST, EMPTY_SHA256, SUITE_AT
        )
        assert _signature(headers) == want, name


# -- the S3 API reference's examples ------------------------------------------------


def _s3(method: str, path: str, query: str, extra: dict[str, str], payload: str) -> str:
    headers = {"Host": S3_HOST, "x-amz-content-sha256": payload, **extra}
    return _signature(S3.sign(method, path, query, headers, payload, S3_AT))


def test_s3_get_object_step_by_step() -> None:
    headers = {
        "Host": S3_HOST,
        "Range": "bytes=0-9",
        "x-amz-content-sha256": EMPTY_SHA256,
        "x-amz-date": "20130524T000000Z",
    }
    canonical, signed = Signer.canonical_request("GET", "/test.txt", "", headers, EMPTY_SHA256)
    assert signed == "host;range;x-amz-content-sha256;x-amz-date"
    assert sha256_hex(canonical.encode()) == (
        "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972"
    )
    got = _s3("GET", "/test.txt", "", {"Range": "bytes=0-9"}, EMPTY_SHA256)
    assert got == "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"


def test_s3_put_object_encodes_the_key_once() -> None:
    body = b"Welcome to Amazon S3."
    payload = sha256_hex(body)
    assert payload == "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072"
    path = "/" + uri_encode("test$file.text")
    assert path == "/test%24file.text"
    extra = {"Date": "Fri, 24 May 2013 00:00:00 GMT", "x-amz-storage-class": "REDUCED_REDUNDANCY"}
    got = _s3("PUT", path, "", extra, payload)
    assert got == "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"


def test_s3_bucket_requests_with_a_query() -> None:
    lifecycle = _s3("GET", "/", canonical_query([("lifecycle", "")]), {}, EMPTY_SHA256)
    assert lifecycle == "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"
    listing = canonical_query([("prefix", "J"), ("max-keys", "2")])
    assert listing == "max-keys=2&prefix=J"
    got = _s3("GET", "/", listing, {}, EMPTY_SHA256)
    assert got == "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"


def test_encoding_rules() -> None:
    assert uri_encode("hls/sh_1/s1.2.m4s") == "hls/sh_1/s1.2.m4s"
    assert uri_encode("a b+c/é~") == "a%20b%2Bc/%C3%A9~"
    assert uri_encode("a/b", keep_slash=False) == "a%2Fb"
    assert canonical_query([("prefix", "hls/x y/"), ("list-type", "2")]) == (
        "list-type=2&prefix=hls%2Fx%20y%2F"
    )
    # header values are trimmed and inner runs of spaces collapsed; names lowercased
    canonical, signed = Signer.canonical_request(
        "GET", "/", "", {"Host": "h", "My-Header1": "  a   b   c  "}, EMPTY_SHA256
    )
    assert "my-header1:a b c\n" in canonical and signed == "host;my-header1"


# -- agreement with botocore on random S3 requests -----------------------------------

_key_text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=40
)


@settings(max_examples=60, deadline=None)
@given(
    key=_key_text,
    query=st.lists(st.tuples(_key_text, st.text(max_size=10)), max_size=3),
    method=st.sampled_from(["GET", "PUT", "HEAD", "DELETE", "POST"]),
    body=st.binary(max_size=64),
    cache=st.sampled_from(["public, max-age=1", "no-cache", "public,  max-age=31536000 "]),
)
def test_botocore_agrees(
    key: str, query: list[tuple[str, str]], method: str, body: bytes, cache: str
) -> None:
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    path = "/bucket/" + uri_encode(key)
    q = canonical_query(query)
    payload = sha256_hex(body)
    ours = S3.sign(
        method,
        path,
        q,
        {"host": "127.0.0.1:9000", "x-amz-content-sha256": payload, "cache-control": cache},
        payload,
        S3_AT,
    )
    request = AWSRequest(
        method=method,
        url=f"http://127.0.0.1:9000{path}" + (f"?{q}" if q else ""),
        data=body,
        headers={k: v for k, v in ours.items() if k != "authorization"},
    )
    request.context["timestamp"] = ours["x-amz-date"]
    auth = S3SigV4Auth(Credentials(S3.access_key_id, S3.secret_access_key), "s3", "us-east-1")
    canonical = auth.canonical_request(request)
    theirs = auth.signature(auth.string_to_sign(request, canonical), request)
    assert _signature(ours) == theirs
