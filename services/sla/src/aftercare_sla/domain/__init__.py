"""SLA domain logic: plain Python, no web framework, database or broker.

- ``business_time``: business calendars and business-time arithmetic;
- ``clocks``: the SLA clock state machine;
- ``ticket_lifecycle``: how a ticket's events drive its two clocks.
"""
