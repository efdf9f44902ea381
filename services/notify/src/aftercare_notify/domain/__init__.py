"""Notify's rules as plain Python: no FastAPI, SQLAlchemy, httpx or aiokafka here."""
