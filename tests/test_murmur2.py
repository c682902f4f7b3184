"""Our murmur2 picks the partitions Kafka's clients pick: the Java client's test vectors,
and aiokafka's hash for keys of every length (each tail of 0-3 bytes) and content."""

from __future__ import annotations

import pytest
from aiokafka.partitioner import murmur2 as aiokafka_murmur2
from hypothesis import given, settings
from hypothesis import strategies as st

from libs.common.murmur2 import murmur2


@settings(max_examples=500)
@given(st.binary(max_size=300))
def test_equals_aiokafkas_hash(key: bytes) -> None:
    assert murmur2(key) == aiokafka_murmur2(key)


@pytest.mark.parametrize(
    ("key", "java_int"),
    [  # the test vectors of the Java client's UtilsTest.testMurmur2
        (b"21", -973932308),
        (b"foobar", -790332482),
        (b"a-little-bit-long-string", -985981536),
        (b"a-little-bit-longer-string", -1486304829),
        (b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971),
        (b"abc", 479470107),
    ],
)
def test_matches_the_java_clients_vectors(key: bytes, java_int: int) -> None:
    assert murmur2(key) == java_int & 0xFFFFFFFF
