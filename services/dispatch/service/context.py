"""What the ticket service needs from the running app, gathered in one object (built in the lifespan)."""

from __future__ import annotations

from dataclasses import dataclass

from services.dispatch.clients import RegistryClient
from services.dispatch.service.clock import ClockRules
from services.dispatch.service.places import MapCopy
from services.dispatch.service.standards import Catalog
from services.dispatch.settings import DispatchSettings


@dataclass
class Dispatch:
    settings: DispatchSettings
    rules: ClockRules
    registry: RegistryClient
    catalog: Catalog  # swapped whole when the standards change
    map: MapCopy  # the registry's map, for placing points in-process

    @classmethod
    def build(cls, settings: DispatchSettings, registry: RegistryClient, catalog: Catalog) -> Dispatch:
        rules = ClockRules(
            calendar=settings.calendar(),
            response_rule_hours=settings.response_rule_hours,
            warn_share=settings.warn_share,
            red_share=settings.red_share,
        )
        return cls(settings=settings, rules=rules, registry=registry, catalog=catalog, map=MapCopy())
