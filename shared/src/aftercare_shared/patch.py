"""One way to read a PATCH body: a field left out is unchanged, ``null`` clears it.

Request schemas subclass :class:`PatchBody` and list in ``clearable`` the fields that
may be set to ``null``; ``null`` for any other field is a 422. Routes hand
``body.changes()`` to the use case, whose change set defaults every field to
:data:`UNSET`, so "left out" and "set to null" never look alike anywhere.
"""

from __future__ import annotations

import enum
from typing import Any, ClassVar, Final, TypeVar

from pydantic import BaseModel, ConfigDict, GetJsonSchemaHandler, model_validator
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema


class Unset(enum.Enum):
    """The type of :data:`UNSET`: "the caller did not mention this field"."""

    UNSET = "UNSET"

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Final = Unset.UNSET

ValueT = TypeVar("ValueT")


def is_set(value: ValueT | Unset) -> bool:
    return value is not UNSET


class PatchBody(BaseModel):
    """Base of every PATCH request body (unknown fields are refused)."""

    model_config = ConfigDict(extra="forbid")

    clearable: ClassVar[frozenset[str]] = frozenset()
    """Fields that accept ``null`` (meaning: clear the value)."""

    @model_validator(mode="after")
    def _refuse_null_for_required_fields(self) -> PatchBody:
        for name in self.model_fields_set:
            if getattr(self, name) is None and name not in self.clearable:
                raise ValueError(f"{name} cannot be null; leave it out to keep it unchanged")
        return self

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        """The documented schema says what the validator above enforces: ``null`` only for
        clearable fields (the Python types are ``X | None`` so that "left out" can default
        to None; without this the OpenAPI document offered ``null`` everywhere)."""
        schema = handler(core_schema)
        properties = handler.resolve_ref_schema(schema).get("properties", {})
        for name, field in cls.model_fields.items():
            if name not in cls.clearable and (alias := field.alias or name) in properties:
                _not_nullable(properties[alias])
        return schema

    def changes(self) -> dict[str, Any]:
        """The fields the caller sent, by name (``None`` only for clearable fields)."""
        return {name: getattr(self, name) for name in self.model_fields_set}


_NULL: Final = {"type": "null"}


def _not_nullable(property_schema: dict[str, Any]) -> None:
    """Take ``null`` out of a property's schema (and the ``null`` default it came with)."""
    variants = property_schema.get("anyOf")
    if variants and _NULL in variants:
        others = [variant for variant in variants if variant != _NULL]
        del property_schema["anyOf"]
        if len(others) == 1:
            property_schema.update(others[0])
        else:
            property_schema["anyOf"] = others
    if "default" in property_schema and property_schema["default"] is None:
        del property_schema["default"]
