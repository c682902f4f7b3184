"""The SSRF guard refuses non-public targets unless private targets are allowed."""

from __future__ import annotations

import pytest

from libs.common.errors import OutboundUrlRefused
from libs.common.ssrf import check_outbound_url


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "http://10.1.2.3/",
        "http://192.168.0.1/",
        "http://169.254.169.254/latest/meta-data/",  # cloud metadata
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://0.0.0.0/",
    ],
)
async def test_non_public_targets_are_refused(url: str) -> None:
    with pytest.raises(OutboundUrlRefused, match="non-public"):
        await check_outbound_url(url, allow_private=False)


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("file:///etc/passwd", "http"),
        ("ftp://example.com/", "http"),
        ("http://user:pw@127.0.0.1/", "credentials"),
        ("http:///nohost", "http"),
    ],
)
async def test_malformed_targets_are_refused_whatever_the_setting(url: str, problem: str) -> None:
    with pytest.raises(OutboundUrlRefused, match=problem):
        await check_outbound_url(url, allow_private=True)


async def test_public_addresses_pass() -> None:
    await check_outbound_url("https://93.184.215.14/hook", allow_private=False)  # no traffic sent


async def test_private_targets_pass_when_allowed() -> None:
    await check_outbound_url("http://127.0.0.1:9/hook", allow_private=True)


async def test_refusal_never_echoes_query_secrets() -> None:
    with pytest.raises(OutboundUrlRefused) as refused:
        await check_outbound_url("http://127.0.0.1/hook?token=s3cret", allow_private=False)
    assert "s3cret" not in str(refused.value.to_body())
