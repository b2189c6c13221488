"""The SigV4 signer against AWS's published example (GET Object, "Example: GET Object")."""

from __future__ import annotations

from datetime import UTC, datetime

from flux_remix.storage.sigv4 import EMPTY_SHA256, canonical_query, sign


def test_signs_the_aws_get_object_example() -> None:
    headers = sign(
        "GET",
        "https://examplebucket.s3.amazonaws.com/test.txt",
        {"host": "examplebucket.s3.amazonaws.com", "range": "bytes=0-9"},
        EMPTY_SHA256,
        access_key="AKIAIOSFODNN7EXAMPLE",
        secret_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        region="us-east-1",
        now=datetime(2013, 5, 24, tzinfo=UTC),
    )
    assert headers["Authorization"] == (
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
        "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
    )
    assert headers["x-amz-date"] == "20130524T000000Z"


def test_query_parameters_are_sorted_and_encoded() -> None:
    assert canonical_query("prefix=a b&max-keys=2&acl") == "acl=&max-keys=2&prefix=a%20b"
