"""Alembic environment of the intake schema."""

from aftercare_intake.models import Base
from aftercare_shared.migrations import run_migrations_from_env

run_migrations_from_env(Base.metadata)
