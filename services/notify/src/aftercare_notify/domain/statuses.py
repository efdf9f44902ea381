"""The states of endpoints and deliveries, written once (Literal types and their tuples)."""

from __future__ import annotations

from typing import Literal, get_args

EndpointStatus = Literal["enabled", "disabled"]
ENDPOINT_STATUSES: tuple[EndpointStatus, ...] = get_args(EndpointStatus)

DeliveryStatus = Literal["pending", "succeeded", "failed", "cancelled"]
DELIVERY_STATUSES: tuple[DeliveryStatus, ...] = get_args(DeliveryStatus)
