"""Alembic environment of the releases service (its version table lives in ``releases``)."""

from aftercare_releases.models import Base
from aftercare_shared.migrations import run_migrations_from_env

run_migrations_from_env(Base.metadata)
