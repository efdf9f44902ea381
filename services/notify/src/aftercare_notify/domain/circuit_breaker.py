"""One circuit breaker per endpoint: stop calling a receiver that keeps timing out.

Closed: attempts go out. After ``failure_threshold`` consecutive timeouts or connection
failures the breaker opens for a jittered ``cooldown``: the endpoint's deliveries are
left out of the claim, so they wait without spending attempts and without holding
connections that healthy endpoints need. Then it is half-open: one probe goes out; a
success closes the breaker, a failure opens it again. Answers (any HTTP status) are not
what a breaker is for — the retry schedule handles those.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class _State:
    consecutive_failures: int = 0
    open_until: float | None = None
    probing: bool = False


@dataclass
class CircuitBreakers:
    failure_threshold: int = 5
    cooldown_seconds: float = 30.0
    jitter_ratio: float = 0.2
    random_source: random.Random = field(default_factory=random.Random)
    _states: dict[str, _State] = field(default_factory=dict)

    def may_claim(self, endpoint_id: str, now: float) -> bool:
        """Whether the endpoint's deliveries may be claimed right now."""
        state = self._states.get(endpoint_id)
        if state is None or state.open_until is None:
            return True
        return now >= state.open_until and not state.probing

    def probe_candidates(self, now: float) -> list[str]:
        """Half-open endpoints waiting for their probe (one delivery each may be claimed)."""
        return [
            endpoint_id
            for endpoint_id, state in self._states.items()
            if state.open_until is not None and now >= state.open_until and not state.probing
        ]

    def blocked(self, now: float) -> list[str]:
        """Endpoints whose deliveries must stay out of the next claim."""
        return [endpoint_id for endpoint_id in self._states if not self.may_claim(endpoint_id, now)]

    def start_probe(self, endpoint_id: str) -> None:
        state = self._states.get(endpoint_id)
        if state is not None and state.open_until is not None:
            state.probing = True

    def record(self, endpoint_id: str, *, unreachable: bool, now: float) -> bool:
        """Note one attempt's outcome; True when this opened the breaker."""
        state = self._states.setdefault(endpoint_id, _State())
        if not unreachable:
            self._states.pop(endpoint_id, None)  # closed: forget the endpoint
            return False
        state.consecutive_failures += 1
        was_probe = state.probing
        state.probing = False
        if was_probe or state.consecutive_failures >= self.failure_threshold:
            jitter = 1 + self.random_source.uniform(-self.jitter_ratio, self.jitter_ratio)
            state.open_until = now + self.cooldown_seconds * jitter
            return True
        return False
