"""Logs, traces and metrics every service exposes the same way."""
