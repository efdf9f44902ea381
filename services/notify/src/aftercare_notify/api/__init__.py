"""Notify's HTTP API: thin routers over the use cases."""
