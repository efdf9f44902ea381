"""Transactional outbox: events commit with the state change, a relay publishes them.

A service's first migration calls :func:`create_messaging_tables`; its write paths call
:func:`enqueue_event` inside their transaction; its lifespan runs one :class:`OutboxRelay`
(woken at commit through :mod:`aftercare_shared.outbox.wake`) and the purge job of
:mod:`aftercare_shared.outbox.purge`.
"""

from aftercare_shared.outbox import wake
from aftercare_shared.outbox.enqueue import enqueue_event, enqueue_events, record_headers
from aftercare_shared.outbox.relay import OutboxRelay
from aftercare_shared.outbox.tables import (
    create_messaging_tables,
    create_outbox_purge_index,
    drop_messaging_tables,
    drop_outbox_purge_index,
    inbox_table,
    outbox_notify_channel,
    outbox_table,
)

__all__ = [
    "OutboxRelay",
    "create_messaging_tables",
    "create_outbox_purge_index",
    "drop_messaging_tables",
    "drop_outbox_purge_index",
    "enqueue_event",
    "enqueue_events",
    "inbox_table",
    "outbox_notify_channel",
    "outbox_table",
    "record_headers",
    "wake",
]
