from aftercare_notify.models import Base
from aftercare_shared.migrations import run_migrations_from_env

run_migrations_from_env(Base.metadata)
