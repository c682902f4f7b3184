"""Outbox rows that carry many messages of one topic (the alert topics).

An outbox row was one message. Alerting writes one or two messages per stored alert
(`alerts.v2`, and `alerts.v1` while it is published), so in the alerting benchmark the
outbox's inserts and the relay's deletes were a third of PostgreSQL's time: every row
costs a heap tuple, three index entries and a delete, whatever its size. A batch row
holds up to `MESSAGES_PER_ROW` messages of one topic and tenant written in one
transaction, and the relay publishes each of them as the message it would have been:

- `headers`: the CloudEvents headers the messages share (all but `ce_id`, `ce_subject`);
- `payload`: a JSON array of entries `{"key", "id", "subject", "message"}`: the
  message's Kafka key, its `ce_id` and `ce_subject`, and its body as written;
- `batch_messages`: the number of entries (NULL on a row that is one message);
- `key` is empty and `event_id` names the row, not a message.

Consumers see no difference: the same keys, partitions, headers and bodies. A row is
published and deleted (or marked sent) as a whole, so its messages are delivered at least
once, like any other row's. Case events stay one row each: every case change is one
audit event and one outbox row."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, NamedTuple

import msgspec

from libs.common.db.jsonb import SerializedJSON

# Bounds a row (about 600 bytes a message) and what the relay holds of it at once; the
# relay's round is bounded in messages (OutboxSettings.batch_size), a row is never split.
MESSAGES_PER_ROW = 500


class BatchEntry(msgspec.Struct):
    key: str
    id: str
    subject: str
    # The message body exactly as encoded by its writer.
    message: msgspec.Raw


class OutgoingMessage(NamedTuple):
    """One message of an outbox row, as the relay publishes it."""

    topic: str
    key: str
    headers: dict[str, str]
    payload: str


_ENCODER = msgspec.json.Encoder()
_ENTRIES = msgspec.json.Decoder(list[BatchEntry])


def batch_rows(
    tenant_id: str, topic: str, headers: dict[str, str], entries: Sequence[BatchEntry]
) -> list[dict[str, Any]]:
    """Outbox rows (as `casestore.repository.INSERT_OUTBOX` takes them) carrying
    `entries`, in their order, `MESSAGES_PER_ROW` at most each."""
    return [
        {
            "event_id": uuid.uuid4(),
            "tenant_id": tenant_id,
            "topic": topic,
            "key": "",
            "headers": headers,
            "payload": SerializedJSON(_ENCODER.encode(chunk).decode()),
            "batch_messages": len(chunk),
        }
        for chunk in (
            entries[start : start + MESSAGES_PER_ROW]
            for start in range(0, len(entries), MESSAGES_PER_ROW)
        )
    ]


def decode_entries(payload: str) -> list[BatchEntry]:
    """A batch row's entries, from its payload as PostgreSQL prints it."""
    # str(): a SerializedJSON (a str subclass) as written; the relay reads plain str.
    return _ENTRIES.decode(str(payload))


def row_messages(
    topic: str, key: str, headers: dict[str, str], payload: str, batch_messages: int | None
) -> list[OutgoingMessage]:
    """The messages of one outbox row: itself, or each entry of a batch row with the
    row's headers and its own id and subject. How to read the outbox; the relay builds
    its records without this step (`outbox.batch_row_records`), and a test holds those
    records to these messages."""
    if batch_messages is None:
        return [OutgoingMessage(topic, key, headers, payload)]
    return [
        OutgoingMessage(
            topic,
            entry.key,
            {**headers, "ce_id": entry.id, "ce_subject": entry.subject},
            bytes(entry.message).decode(),
        )
        for entry in decode_entries(payload)
    ]
