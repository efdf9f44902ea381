"""What notify's routers receive from the service: settings, URL guard, stream feed."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from aftercare_notify.settings import NotifySettings
from aftercare_notify.stream import StreamFeed
from aftercare_shared.service import provided
from aftercare_shared.url_guard import UrlGuard

SettingsDep = Annotated[NotifySettings, Depends(provided(NotifySettings))]
UrlGuardDep = Annotated[UrlGuard, Depends(provided(UrlGuard))]
StreamFeedDep = Annotated[StreamFeed, Depends(provided(StreamFeed))]
