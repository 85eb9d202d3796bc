"""Who owns jobs and courses: users in organizations, with a role."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Role = Literal["student", "teacher", "admin"]
ROLES: tuple[Role, ...] = ("student", "teacher", "admin")


@dataclass(frozen=True)
class User:
    id: str
    name: str
    organization_id: str
    role: Role
