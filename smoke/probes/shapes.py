"""How the suite reads a JSON object of which only some fields matter (a health body, cloudflared's /ready, an
entry of PM2's list): pydantic models that never refuse a shape, each field taking its default where the value is
missing or not of its kind, so a wrong shape reads as the same facts, and the same message, it always did.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, model_validator

# the value of a field as text whatever its JSON type (str() of it), and true only for JSON true
Text = Annotated[str, BeforeValidator(str)]
Flag = Annotated[bool, BeforeValidator(lambda value: value is True)]


class Body(BaseModel):
    """A JSON object: anything else (a list, text, no body) reads as an empty one."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    @model_validator(mode="before")
    @classmethod
    def _object(cls, body: Any) -> dict:
        return body if isinstance(body, dict) else {}

    @classmethod
    def read(cls, body: Any):
        return cls.model_validate(body)
