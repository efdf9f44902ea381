"""Sentry's ingest protocol, as unmodified Sentry SDKs speak it.

Pure modules (no web framework, no database): reading envelopes under hard limits
(:mod:`.envelope`, :mod:`.decompression`), the credentials an SDK sends
(:mod:`.credentials`), what a Sentry event becomes in Aftercare (:mod:`.events`) and the
rate-limit answer SDKs obey (:mod:`.rate_limits`).
"""
