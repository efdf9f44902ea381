"""Client reporting: read models of everyone's events, and the reports computed from them.

- ``models``: the ``report_*`` tables (read models, rebuilt from the topics at will);
- ``ingest``: the event handlers that keep them (included in sla's registry);
- ``periods``: report periods (``2026-11``, ``2026-Q4``) in the client's plan time zone;
- ``figures``: the pure counting rules (business time, medians, p90…);
- ``clock_sql``, ``breach_sql``, ``ticket_sql``: the figures Postgres adds up (per metric x
  priority, breaches, tickets, MTTR); ``queries``: the small rest a report reads;
- ``sla_compliance`` and ``monthly``: the reports;
- ``csv_output``, ``html_output``, ``charts``: renderers;
- ``publishing``: the monthly ``report.published`` timer; ``rebuild``: replay the topics.
"""
