"""What notify's routers receive from the service: its settings and the URL guard."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from aftercare_notify.settings import NotifySettings
from aftercare_notify.url_guard import UrlGuard
from aftercare_shared.service import provided

SettingsDep = Annotated[NotifySettings, Depends(provided(NotifySettings))]
UrlGuardDep = Annotated[UrlGuard, Depends(provided(UrlGuard))]
