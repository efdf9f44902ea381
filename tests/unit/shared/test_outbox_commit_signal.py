"""The in-process commit signal of the outbox relay: who must NOTIFY, who gets woken."""

from __future__ import annotations

import asyncio
import threading

from aftercare_shared.outbox import wake
from tests.support.infra import unique_name


async def test_only_a_schema_led_in_this_process_skips_the_notify() -> None:
    led, other = unique_name("led"), unique_name("other")
    woken = asyncio.Event()
    assert wake.notify_needed(led)
    with wake.leading(led, woken.set):
        assert not wake.notify_needed(led)
        assert wake.notify_needed(other), "another schema's leader may be elsewhere"
        wake.committed(other)
        assert not woken.is_set()
        wake.committed(led)
        assert woken.is_set()
    assert wake.notify_needed(led), "a relay that stopped leading must be notified again"
    woken.clear()
    wake.committed(led)
    assert not woken.is_set()


async def test_a_commit_on_another_thread_wakes_the_relay_on_its_own_loop() -> None:
    schema = unique_name("threads")
    woken = asyncio.Event()
    woken_on: list[int] = []

    def on_wake() -> None:
        woken_on.append(threading.get_ident())
        woken.set()

    with wake.leading(schema, on_wake):
        thread = threading.Thread(target=wake.committed, args=(schema,))
        thread.start()
        thread.join()
        await asyncio.wait_for(woken.wait(), 5)
    assert woken_on == [threading.get_ident()]


def test_a_leader_whose_loop_was_closed_leads_nothing() -> None:
    schema = unique_name("closed")
    loop = asyncio.new_event_loop()
    leading = wake.leading(schema, lambda: None)

    async def lead_and_vanish() -> None:
        leading.__enter__()  # never exited: the loop goes away under the relay

    loop.run_until_complete(lead_and_vanish())
    assert not wake.notify_needed(schema)
    loop.close()
    assert wake.notify_needed(schema)
    wake.committed(schema)  # nothing to wake, and no error
