"""Request and response bodies of the operators API (CONTRACT §3)."""

from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from yizhan.common.auth import Role
from yizhan.stations.passwords import weak_password
from yizhan.stations.schemas import DistrictName, PlainText

MAX_DISTRICTS = 100
# Letters (Chinese included), digits, `_`, `.`, `@`, `-`: a name that reads well in logs and
# URLs (/api/v1/operators/{username}).
USERNAME_PATTERN = r"^[\w.@-]{1,64}$"
Username = Annotated[str, StringConstraints(pattern=USERNAME_PATTERN)]
# Strength beyond the length is judged with the username at hand (operators.weak_password).
Password = Annotated[str, StringConstraints(min_length=8, max_length=256), PlainText]
Districts = Annotated[list[DistrictName], Field(max_length=MAX_DISTRICTS)]


def _districts_fit_role(role: Role | None, districts: list[str] | None) -> None:
    if role == "admin" and districts:
        raise ValueError("an admin sees every district: leave districts empty")
    if role == "district" and districts is not None and not districts:
        raise ValueError("a district operator needs at least one district")


class OperatorOut(BaseModel):
    """An operator account as the API shows it (never its password or hash)."""

    username: str
    role: Role
    districts: list[str]
    disabled: bool


class OperatorList(BaseModel):
    """Every operator account, by username."""

    items: list[OperatorOut]


class OperatorCreate(BaseModel):
    """A new operator account."""

    model_config = ConfigDict(extra="forbid")

    username: Username
    password: Password
    role: Role
    districts: Districts = []

    @field_validator("password")
    @classmethod
    def _strong(cls, password: str, info: ValidationInfo) -> str:
        weakness = weak_password(password, info.data.get("username", ""))
        if weakness is not None:
            raise ValueError(weakness)
        return password

    @field_validator("districts")
    @classmethod
    def _fit_role(cls, districts: list[str], info: ValidationInfo) -> list[str]:
        _districts_fit_role(info.data.get("role"), districts)
        return sorted(set(districts))


class OperatorPatch(BaseModel):
    """What to change on an account; absent fields stay as they are. `current_password`
    (optional) is checked when given: the console asks for it when one changes one's own."""

    model_config = ConfigDict(extra="forbid")

    role: Role | None = None
    districts: Districts | None = None
    disabled: bool | None = None
    password: Password | None = None
    current_password: Annotated[str, StringConstraints(max_length=256), PlainText] | None = None

    @field_validator("password")
    @classmethod
    def _strong(cls, password: str | None) -> str | None:
        # Judged again with the username by operators.update_account.
        weakness = None if password is None else weak_password(password, "")
        if weakness is not None:
            raise ValueError(weakness)
        return password

    @field_validator("districts")
    @classmethod
    def _unique(cls, districts: list[str] | None) -> list[str] | None:
        return None if districts is None else sorted(set(districts))
