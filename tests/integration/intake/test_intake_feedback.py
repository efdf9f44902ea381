"""Satisfaction feedback: once per resolution cycle, by the ticket's client, read by staff."""

from __future__ import annotations

import httpx

from tests.integration.intake.intake_support import (
    STAFF,
    client_with_key,
    count,
    outbox_events,
    report,
)


def _as(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def _set_status(api: httpx.AsyncClient, ticket_id: str, status: str) -> None:
    answer = await api.patch(f"/v1/tickets/{ticket_id}", json={"status": status}, headers=STAFF)
    assert answer.status_code == 200, answer.text


async def test_feedback_once_per_resolution_cycle(
    api: httpx.AsyncClient, database_url: str
) -> None:
    client_id, key = await client_with_key(api)
    ticket_id = await report(api, key, "Checkout fails")

    not_resolved = await api.post(
        f"/v1/tickets/{ticket_id}/feedback", json={"rating": 5}, headers=_as(key)
    )
    assert not_resolved.status_code == 409
    assert not_resolved.json()["type"].endswith("/ticket-not-resolved")

    await _set_status(api, ticket_id, "resolved")
    first = await api.post(
        f"/v1/tickets/{ticket_id}/feedback",
        json={"rating": 4, "comment": "Quick <b>fix</b>"},
        headers=_as(key),
    )
    assert first.status_code == 201, first.text
    assert first.json()["rating"] == 4
    again = await api.post(
        f"/v1/tickets/{ticket_id}/feedback", json={"rating": 1}, headers=_as(key)
    )
    assert again.status_code == 409
    assert again.json()["type"].endswith("/feedback-already-given")

    # Reopened and resolved again: a new cycle, rated again.
    await _set_status(api, ticket_id, "triaged")
    reopened = await api.post(
        f"/v1/tickets/{ticket_id}/feedback", json={"rating": 2}, headers=_as(key)
    )
    assert reopened.status_code == 409
    await _set_status(api, ticket_id, "resolved")
    second = await api.post(
        f"/v1/tickets/{ticket_id}/feedback", json={"rating": 2}, headers=_as(key)
    )
    assert second.status_code == 201, second.text
    assert await count(database_url, "ticket_feedback") == 2

    on_ticket = await api.get(f"/v1/tickets/{ticket_id}/feedback", headers=STAFF)
    assert [entry["rating"] for entry in on_ticket.json()] == [4, 2]

    events = [
        e for e in await outbox_events(database_url) if e.type.endswith("feedback_received.v1")
    ]
    assert [event.data["rating"] for event in events] == [4, 2]
    assert events[0].data["comment"] == "Quick <b>fix</b>"
    assert events[0].subject == ticket_id
    assert events[0].data["client_id"] == client_id


async def test_feedback_refusals_change_nothing(api: httpx.AsyncClient, database_url: str) -> None:
    _, key = await client_with_key(api)
    ticket_id = await report(api, key, "Slow page")
    await _set_status(api, ticket_id, "resolved")

    by_staff = await api.post(
        f"/v1/tickets/{ticket_id}/feedback", json={"rating": 5}, headers=STAFF
    )
    assert by_staff.status_code == 403
    out_of_range = await api.post(
        f"/v1/tickets/{ticket_id}/feedback", json={"rating": 6}, headers=_as(key)
    )
    assert out_of_range.status_code == 422
    _, other_key = await client_with_key(api, "Globex")
    foreign = await api.post(
        f"/v1/tickets/{ticket_id}/feedback", json={"rating": 5}, headers=_as(other_key)
    )
    assert foreign.status_code == 404
    assert await count(database_url, "ticket_feedback") == 0


async def test_client_feedback_pages_and_tenant_isolation(api: httpx.AsyncClient) -> None:
    client_id, key = await client_with_key(api)
    other_id, other_key = await client_with_key(api, "Globex")
    for rating in (5, 3, 4):
        ticket_id = await report(api, key, f"Bug {rating}")
        await _set_status(api, ticket_id, "resolved")
        answer = await api.post(
            f"/v1/tickets/{ticket_id}/feedback", json={"rating": rating}, headers=_as(key)
        )
        assert answer.status_code == 201

    first = await api.get(f"/v1/clients/{client_id}/feedback?limit=2", headers=STAFF)
    assert first.status_code == 200, first.text
    assert [entry["rating"] for entry in first.json()["items"]] == [4, 3]
    rest = await api.get(
        f"/v1/clients/{client_id}/feedback",
        params={"limit": 2, "cursor": first.json()["next_cursor"]},
        headers=STAFF,
    )
    assert [entry["rating"] for entry in rest.json()["items"]] == [5]
    assert rest.json()["next_cursor"] is None

    own = await api.get(f"/v1/clients/{client_id}/feedback", headers=_as(key))
    assert len(own.json()["items"]) == 3
    window = await api.get(
        f"/v1/clients/{client_id}/feedback",
        params={"from": "2000-01-01T00:00:00Z", "to": "2000-02-01T00:00:00Z"},
        headers=STAFF,
    )
    assert window.json()["items"] == []
    assert (
        await api.get(f"/v1/clients/{client_id}/feedback", headers=_as(other_key))
    ).status_code == 404
    assert (await api.get(f"/v1/clients/{other_id}/feedback", headers=_as(key))).status_code == 404
    bad_cursor = await api.get(f"/v1/clients/{client_id}/feedback?cursor=nope", headers=STAFF)
    assert bad_cursor.status_code == 422
