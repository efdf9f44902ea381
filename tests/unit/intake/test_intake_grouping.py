"""Grouping a support engineer trusts: real pairs that must, and must not, make one ticket.

Each pair is what an unmodified Sentry SDK (or a REST client) sends; the assertion is on
the fingerprint that routes it to a ticket.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from aftercare_intake.api.schemas import ReportCreate
from aftercare_intake.grouping import frames_from_text, normalise_message
from aftercare_intake.sentry.events import occurrence_from_event
from aftercare_intake.use_cases import occurrence_from_report


def _python_event(
    *,
    exception_type: str = "KeyError",
    value: str = "'sku-1234'",
    frames: list[dict[str, Any]] | None = None,
    release: str = "shop@1.4.0",
    fingerprint: list[str] | None = None,
) -> dict[str, Any]:
    """An exception event the way sentry-sdk for Python sends it."""
    event: dict[str, Any] = {
        "event_id": "9ec79c33ec9942ab8353589fcb2e04dc",
        "level": "error",
        "platform": "python",
        "release": release,
        "exception": {
            "values": [
                {
                    "type": exception_type,
                    "value": value,
                    "module": None,
                    "mechanism": {"type": "generic", "handled": True},
                    "stacktrace": {"frames": frames if frames is not None else _checkout_frames()},
                }
            ]
        },
    }
    if fingerprint is not None:
        event["fingerprint"] = fingerprint
    return event


def _checkout_frames(
    *, deploy: str = "releases/2026-11-30", line: int = 42
) -> list[dict[str, Any]]:
    root = f"/srv/shop/{deploy}"
    return [
        {
            "filename": "django/core/handlers/base.py",
            "abs_path": "/usr/lib/python3.11/site-packages/django/core/handlers/base.py",
            "module": "django.core.handlers.base",
            "function": "_get_response",
            "lineno": 197,
            "in_app": False,
        },
        {
            "filename": "shop/views.py",
            "abs_path": f"{root}/shop/views.py",
            "module": "shop.views",
            "function": "checkout",
            "lineno": 18,
            "in_app": True,
        },
        {
            "filename": "shop/pricing.py",
            "abs_path": f"{root}/shop/pricing.py",
            "module": "shop.pricing",
            "function": "price_for",
            "lineno": line,
            "in_app": True,
        },
    ]


def _fingerprint(event: dict[str, Any]) -> str:
    return occurrence_from_event(event, project_id=1).fingerprint


# --- Sentry events: must group ---------------------------------------------------------------


def test_the_same_bug_on_other_lines_and_paths_after_a_deploy_is_one_ticket() -> None:
    before = _python_event(frames=_checkout_frames(deploy="releases/2026-11-30", line=42))
    after = _python_event(
        frames=_checkout_frames(deploy="releases/2026-12-01", line=57),
        value="'sku-9876'",
        release="shop@1.5.0",
    )
    assert _fingerprint(before) == _fingerprint(after)


def test_a_library_upgrade_changing_library_frames_is_still_one_ticket() -> None:
    upgraded = _checkout_frames()
    upgraded[0] = {**upgraded[0], "function": "get_response_async", "lineno": 250}
    upgraded.insert(0, {"module": "asgiref.sync", "function": "thread_handler", "in_app": False})
    assert _fingerprint(_python_event()) == _fingerprint(_python_event(frames=upgraded))


def test_javascript_bundles_renamed_by_each_build_are_one_ticket() -> None:
    def browser_event(bundle: str, column: int) -> dict[str, Any]:
        return {
            "platform": "javascript",
            "exception": {
                "values": [
                    {
                        "type": "TypeError",
                        "value": "Cannot read properties of undefined (reading 'price')",
                        "stacktrace": {
                            "frames": [
                                {
                                    "filename": f"https://shop.example/static/js/{bundle}",
                                    "function": "renderBasket",
                                    "lineno": 1,
                                    "colno": column,
                                    "in_app": True,
                                }
                            ]
                        },
                    }
                ]
            },
        }

    assert _fingerprint(browser_event("main.3f2a1b9c.js", 1200)) == _fingerprint(
        browser_event("main.9c8d7e6f.js", 1577)
    )


def test_messages_differing_only_in_ids_numbers_and_addresses_are_one_ticket() -> None:
    def message(text: str) -> dict[str, Any]:
        return {"level": "warning", "logentry": {"formatted": text}}

    first = message(
        "Payment 4711 for bob@example.com from 10.0.0.7 failed: order "
        "0f8c2a1e-2b1f-4c7e-9d3a-5b6c7d8e9f00 'gift card' token deadbeef1234"
    )
    second = message(
        "Payment 93 for alice@shop.example from 2001:db8::1 failed: order "
        "a1b2c3d4-e5f6-4711-8899-aabbccddeeff 'voucher' token 0a1b2c3d4e5f"
    )
    assert _fingerprint(first) == _fingerprint(second)


def test_a_logging_template_groups_by_its_template_not_its_arguments() -> None:
    def logged(user: str) -> dict[str, Any]:
        return {
            "logentry": {
                "message": "Login failed for %s",
                "params": [user],
                "formatted": f"Login failed for {user}",
            }
        }

    assert _fingerprint(logged("bob")) == _fingerprint(logged("carol"))


def test_an_explicit_fingerprint_groups_different_errors_together() -> None:
    timeout = _python_event(exception_type="TimeoutError", fingerprint=["payment-gateway"])
    refused = _python_event(
        exception_type="ConnectionRefusedError", fingerprint=["payment-gateway"]
    )
    assert _fingerprint(timeout) == _fingerprint(refused) == "payment-gateway"


def test_the_default_token_alone_is_the_default_grouping() -> None:
    assert _fingerprint(_python_event(fingerprint=["{{ default }}"])) == _fingerprint(
        _python_event()
    )
    assert _fingerprint(_python_event(fingerprint=["{{default}}"])) == _fingerprint(_python_event())


# --- Sentry events: must not group -------------------------------------------------------------


def test_two_bugs_with_the_same_message_in_different_functions_are_two_tickets() -> None:
    in_pricing = _python_event(value="'sku'")
    in_stock = copy.deepcopy(in_pricing)
    in_stock["exception"]["values"][0]["stacktrace"]["frames"][-1].update(
        module="shop.stock", function="reserve", filename="shop/stock.py"
    )
    assert _fingerprint(in_pricing) != _fingerprint(in_stock)


def test_the_same_place_raising_another_exception_type_is_another_ticket() -> None:
    assert _fingerprint(_python_event(exception_type="KeyError")) != _fingerprint(
        _python_event(exception_type="ValueError")
    )


def test_the_default_token_with_a_tenant_splits_the_default_group() -> None:
    tenant_a = _python_event(fingerprint=["{{ default }}", "tenant-a"])
    tenant_b = _python_event(fingerprint=["{{ default }}", "tenant-b"])
    assert len({_fingerprint(tenant_a), _fingerprint(tenant_b), _fingerprint(_python_event())}) == 3


def test_messages_with_other_words_are_other_tickets() -> None:
    def message(text: str) -> dict[str, Any]:
        return {"message": text}

    assert _fingerprint(message("Payment 1 failed")) != _fingerprint(message("Refund 1 failed"))


def test_a_chained_cause_is_part_of_the_group() -> None:
    plain = _python_event(exception_type="RuntimeError")
    chained = copy.deepcopy(plain)
    chained["exception"]["values"].insert(
        0,
        {
            "type": "ConnectionError",
            "value": "db down",
            "stacktrace": {
                "frames": [{"module": "shop.db", "function": "connect", "in_app": True}]
            },
        },
    )
    assert _fingerprint(plain) != _fingerprint(chained)


# --- REST reports follow the same rules -----------------------------------------------------

PYTHON_TRACEBACK = """Traceback (most recent call last):
  File "/usr/lib/python3.11/site-packages/flask/app.py", line 1484, in full_dispatch_request
    rv = self.dispatch_request()
  File "/srv/shop/{deploy}/shop/views.py", line {view_line}, in checkout
    total = price_for(basket)
  File "/srv/shop/{deploy}/shop/pricing.py", line {line}, in price_for
    return PRICES[sku]
KeyError: 'sku-{sku}'
"""


def _report(**fields: Any) -> ReportCreate:
    return ReportCreate.model_validate({"severity": "high", **fields})


def test_rest_reports_of_one_bug_after_a_deploy_are_one_ticket() -> None:
    before = _report(
        title="KeyError: 'sku-1'",
        kind="bug",
        stacktrace=PYTHON_TRACEBACK.format(deploy="r41", view_line=18, line=42, sku=1),
    )
    after = _report(
        title="KeyError: 'sku-2'",
        kind="bug",
        stacktrace=PYTHON_TRACEBACK.format(deploy="r42", view_line=20, line=57, sku=2),
    )
    assert occurrence_from_report(before).fingerprint == occurrence_from_report(after).fingerprint


def test_rest_reports_with_the_same_title_from_different_functions_are_two_tickets() -> None:
    traceback = PYTHON_TRACEBACK.format(deploy="r41", view_line=18, line=42, sku=1)
    elsewhere = traceback.replace("in price_for", "in reserve_stock")
    first = _report(title="KeyError: 'sku-1'", kind="bug", stacktrace=traceback)
    second = _report(title="KeyError: 'sku-1'", kind="bug", stacktrace=elsewhere)
    assert occurrence_from_report(first).fingerprint != occurrence_from_report(second).fingerprint


def test_rest_reports_without_a_stack_group_by_their_normalised_title() -> None:
    first = occurrence_from_report(_report(title="Checkout fails for order 1234", kind="bug"))
    second = occurrence_from_report(_report(title="checkout fails for order 98", kind="bug"))
    other_kind = occurrence_from_report(
        _report(title="Checkout fails for order 1", kind="incident")
    )
    assert first.fingerprint == second.fingerprint != other_kind.fingerprint


def test_a_rest_fingerprint_is_kept_as_given_and_honours_the_default_token() -> None:
    assert occurrence_from_report(_report(title="x", fingerprint="checkout-500")).fingerprint == (
        "checkout-500"
    )
    default = occurrence_from_report(_report(title="Order 7 failed")).fingerprint
    assert (
        occurrence_from_report(
            _report(title="Order 8 failed", fingerprint="{{ default }}")
        ).fingerprint
        == default
    )


@pytest.mark.parametrize(
    ("stacktrace", "expected"),
    [
        (
            "java.lang.IllegalStateException: boom\n"
            "\tat com.shop.Checkout.pay(Checkout.java:42)\n"
            "\tat java.base/java.lang.Thread.run(Thread.java:833)\n",
            [("com.shop.Checkout.pay", "Checkout.java", True)],
        ),
        (
            "TypeError: x is undefined\n"
            "    at renderBasket (https://shop.example/static/main.3f2a1b.js:1:2345)\n"
            "    at https://shop.example/node_modules/react/index.js:10:4\n",
            [
                ("renderBasket", "https://shop.example/static/main.3f2a1b.js", True),
                (None, "https://shop.example/node_modules/react/index.js", False),
            ],
        ),
        (
            "renderBasket@https://shop.example/static/main.js:1:2345\n",
            [("renderBasket", "https://shop.example/static/main.js", True)],
        ),
        (
            "/srv/app/models/order.rb:42:in `pay'\n",
            [("pay", "/srv/app/models/order.rb", True)],
        ),
        (
            "#0 /srv/app/src/Checkout.php(42): Shop\\Checkout->pay()\n",
            [("Shop\\Checkout->pay", "/srv/app/src/Checkout.php", True)],
        ),
    ],
    ids=["jvm", "v8", "firefox", "ruby", "php"],
)
def test_stack_traces_sent_as_text_are_read_for_their_frames(
    stacktrace: str, expected: list[tuple[str | None, str, bool]]
) -> None:
    found = [
        (frame.function, frame.filename, frame.in_app) for frame in frames_from_text(stacktrace)
    ]
    # The JVM library frame is recognised by its java. prefix.
    assert found[: len(expected)] == expected


@pytest.mark.parametrize(
    ("message", "normalised"),
    [
        ("Order 1234 failed", "order <n> failed"),
        ("user bob@example.com locked", "user <email> locked"),
        ("id 0f8c2a1e-2b1f-4c7e-9d3a-5b6c7d8e9f00 gone", "id <uuid> gone"),
        ("from 192.168.1.20:5432 refused", "from <ip> refused"),
        ("from fe80::1ff:fe23:4567:890a refused", "from <ip> refused"),
        ("at 0x7ffe12 and deadbeef42", "at <hex> and <hex>"),
        ("no key 'sku-1' nor \"sku-2\"", "no key <str> nor <str>"),
        ("can't open file", "can't open file"),
        ("at 12:30:45 it stopped", "at <n>:<n>:<n> it stopped"),
    ],
)
def test_message_normalisation(message: str, normalised: str) -> None:
    assert normalise_message(message) == normalised
