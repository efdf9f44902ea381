"""Alembic environment of the sla schema."""

from aftercare_shared.migrations import run_migrations_from_env
from aftercare_sla.models import Base

run_migrations_from_env(Base.metadata)
