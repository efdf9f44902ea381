"""Routine checks: heartbeat (cron) monitors fed by check-ins, and uptime probes.

- :mod:`.schedule` — when the next check-in is expected (cron in the monitor's zone, or
  an interval);
- :mod:`.evaluation` — the pure state machine: outcomes, thresholds, incidents;
- :mod:`.store` — monitor rows, check-ins, probes, incidents and the durable timers;
- :mod:`.incidents` — an incident's ticket, through intake's filing path;
- :mod:`.service` — the use cases (CRUD, check-ins, deadlines, probe results);
- :mod:`.probes` — one uptime probe over HTTP behind the platform's SSRF guard;
- :mod:`.sentry_checkins` — Sentry Crons check-ins (envelope items and the HTTP form).
"""
