"""What releases' routers may take from the app, typed: the objects its ServiceSpec provides."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from aftercare_releases.settings import ReleasesSettings
from aftercare_shared.service import provided

SettingsDep = Annotated[ReleasesSettings, Depends(provided(ReleasesSettings))]
