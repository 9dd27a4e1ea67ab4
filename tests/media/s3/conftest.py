"""An S3-compatible HTTP server for tests: moto's ``ThreadedMotoServer`` on a
loopback port, with signature checking turned on.

moto is an emulator, not S3: it answers the S3 REST API (and recomputes each
request's SigV4 signature with botocore, so a wrong secret is refused), but
its consistency, limits and error details are its own. The signer is checked
against AWS's published examples separately (test_sigv4.py).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from pasar.storage.s3 import S3Config


@dataclass
class Emulator:
    endpoint: str
    access_key_id: str
    secret_access_key: str
    region: str = "us-east-1"

    def client(self) -> Any:
        """A boto3 S3 client: an independent reader of what was stored."""
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=self.region,
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key,
        )

    def new_bucket(self) -> str:
        name = f"pasar-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name)
        return name

    def config(self, bucket: str, **overrides: Any) -> S3Config:
        values: dict[str, Any] = {
            "endpoint": self.endpoint,
            "bucket": bucket,
            "access_key_id": self.access_key_id,
            "secret_access_key": self.secret_access_key,
            "region": self.region,
        }
        return S3Config(**{**values, **overrides})

    def settings(self, bucket: str) -> dict[str, Any]:
        """``PASAR_*`` settings (as Settings keywords) for an app on this bucket."""
        return {
            "storage": "s3",
            "s3_endpoint": self.endpoint,
            "s3_bucket": bucket,
            "s3_region": self.region,
            "s3_access_key_id": self.access_key_id,
            "s3_secret_access_key": self.secret_access_key,
        }

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        pages = (
            self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        )
        return [o["Key"] for page in pages for o in page.get("Contents", [])]


@pytest.fixture(scope="session")
def emulator() -> Iterator[Emulator]:
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    # An IAM user allowed s3:*, whose key then signs every request.
    import boto3

    iam = boto3.client(
        "iam",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="bootstrap",
        aws_secret_access_key="bootstrap",
    )
    iam.create_user(UserName="pasar")
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
    }
    iam.put_user_policy(UserName="pasar", PolicyName="s3", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName="pasar")["AccessKey"]
    # From here on moto checks every request's signature (and the user's policy).
    httpx.post(f"{endpoint}/moto-api/reset-auth", content=b"0").raise_for_status()
    try:
        yield Emulator(endpoint, key["AccessKeyId"], key["SecretAccessKey"])
    finally:
        httpx.post(f"{endpoint}/moto-api/reset-auth", content=b"inf")
        server.stop()


@pytest.fixture
def bucket(emulator: Emulator) -> str:
    """A new, empty bucket (moto's state lives as long as the test session)."""
    return emulator.new_bucket()
