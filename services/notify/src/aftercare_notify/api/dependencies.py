"""What notify's routers take from the app: its settings and the URL guard."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from aftercare_notify.settings import NotifySettings
from aftercare_notify.url_guard import UrlGuard


def notify_settings(request: Request) -> NotifySettings:
    settings: NotifySettings = request.app.state.notify_settings
    return settings


def url_guard(request: Request) -> UrlGuard:
    guard: UrlGuard = request.app.state.url_guard
    return guard


SettingsDep = Annotated[NotifySettings, Depends(notify_settings)]
UrlGuardDep = Annotated[UrlGuard, Depends(url_guard)]
