"""The local stack: Postgres, Kafka and the four services on one machine, stdlib only.

Run it as ``PYTHONPATH=deploy python3 -m devstack <command>`` (the Makefile does).
"""
