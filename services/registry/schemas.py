"""Request and response bodies (`XCreate` / `XUpdate` / `XRead`)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal, get_args

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from services.registry.crypto import IdNumberError, normalize_phone, parse_id_number
from services.registry.models import GRID_STAFF_ROLES
from shared.auth import SERVICE_ROLE, STAFF_ROLES
from shared.problems import FieldError, ProblemDetail
from shared.types import Name, PrimaryKey, no_nul
from shared.types import trimmed as _trimmed

PersonName = Annotated[str, Field(min_length=1, max_length=50), AfterValidator(_trimmed)]
Phone = Annotated[str, Field(max_length=20), AfterValidator(normalize_phone)]

AreaLevel = Literal["district", "street", "community", "grid", "micro_grid"]
GridKind = Literal["residential", "commercial", "institutional", "security"]
ManagementType = Literal["routine", "prevention", "focus", "rectification"]
GRID_KIND_LABELS = {
    "residential": "小区网格",
    "commercial": "商圈网格",
    "institutional": "单位网格",
    "security": "治安网格",
}
MANAGEMENT_LABELS = {
    "routine": "日常管理型",
    "prevention": "一般防范型",
    "focus": "重点关注型",
    "rectification": "集中整治型",
}
ResidentTag = Literal[
    "独居老人", "残疾人", "孕产妇", "困难群众", "党员", "志愿者", "在职党员双报到", "退役军人", "留守儿童"
]
Relation = Literal["户主", "配偶", "子女", "父母", "祖父母", "孙子女", "兄弟姐妹", "儿媳", "女婿", "其他"]
RESIDENT_TAGS: tuple[str, ...] = get_args(ResidentTag)
RELATIONS: tuple[str, ...] = get_args(Relation)
StaffRole = Literal[(*STAFF_ROLES, SERVICE_ROLE)]  # type: ignore[valid-type]
GridStaffRole = Literal[
    "grid_chief",
    "full_time",
    "part_time",
    "instructor",
    "informant",
    "party_instructor",
    "safety_inspector",
    "mediator",
    "firefighter",
    "police",
    "patroller",
]

GEOJSON_EXAMPLE = {
    "type": "Polygon",
    "coordinates": [
        [[119.960, 31.820], [119.965, 31.820], [119.965, 31.824], [119.960, 31.824], [119.960, 31.820]]
    ],
}


class Schema(BaseModel):
    model_config = ConfigDict(from_attributes=True, str_strip_whitespace=False)


# ---- areas -------------------------------------------------------------------------------------


class AreaRef(Schema):
    id: int
    code: str
    name: str
    level: AreaLevel


class AreaCreate(Schema):
    level: AreaLevel
    code: str = Field(
        pattern=r"^[0-9]{6,18}$",
        description=(
            "Stable code: district 6 digits (区划代码), street 9, community 12, grid 15, micro-grid 18, "
            "each starting with its parent's code."
        ),
        examples=["320411001001011"],
    )
    name: Name
    parent_id: PrimaryKey | None = Field(default=None, description="Required for every level but district.")
    grid_kind: GridKind | None = Field(
        default=None, description="Grids only: " + ", ".join(f"{k}={v}" for k, v in GRID_KIND_LABELS.items())
    )
    management_type: ManagementType | None = Field(
        default=None, description="Grids only: " + ", ".join(f"{k}={v}" for k, v in MANAGEMENT_LABELS.items())
    )
    boundary: dict[str, Any] | None = Field(
        default=None,
        description=(
            "GeoJSON Polygon or MultiPolygon in WGS84 (lng, lat). Grids must not overlap each other; a "
            "micro-grid must lie inside its grid and not overlap its siblings."
        ),
        examples=[GEOJSON_EXAMPLE],
    )


class AreaUpdate(Schema):
    name: Name | None = None
    grid_kind: GridKind | None = None
    management_type: ManagementType | None = None
    boundary: dict[str, Any] | None = Field(default=None, examples=[GEOJSON_EXAMPLE])


class AreaRead(Schema):
    id: int
    level: AreaLevel
    code: str
    name: str
    parent_id: int | None
    grid_kind: GridKind | None = None
    management_type: ManagementType | None = None
    boundary: dict[str, Any] | None = None
    area_m2: float | None = None
    created_at: datetime
    updated_at: datetime
    warnings: list[str] = Field(
        default_factory=list,
        description=(
            "Sizing norms that this area breaks (a grid over 400 households or 1,200 residents, a micro-grid "
            "over 100 households). Norms warn; they do not reject."
        ),
    )


class LocateResult(Schema):
    district: AreaRef | None = None
    street: AreaRef | None = None
    community: AreaRef | None = None
    grid: AreaRef | None = None
    micro_grid: AreaRef | None = None


class BuildingRef(Schema):
    id: int
    code: str
    name: str
    address: str


class AddressMatch(LocateResult):
    building: BuildingRef | None = None
    score: float = Field(description="0–1; how well the address matched the returned place.")
    matched: str = Field(description="The registered address the query matched.")


# ---- grid staff and card ------------------------------------------------------------------------


class GridStaffCreate(Schema):
    name: PersonName
    role: GridStaffRole = Field(description="; ".join(f"{k}={v}" for k, v in GRID_STAFF_ROLES.items()))
    service_phone: Phone | None = Field(default=None, description="A work number shown in full on the card.")
    personal_phone: Phone | None = Field(default=None, description="Shown masked on the public card.")
    account_id: PrimaryKey | None = None


class GridStaffUpdate(Schema):
    name: PersonName | None = None
    role: GridStaffRole | None = None
    service_phone: Phone | None = None
    personal_phone: Phone | None = None
    account_id: PrimaryKey | None = None


class GridStaffRead(Schema):
    id: int
    grid_id: int
    name: str
    role: GridStaffRole
    role_label: str
    service_phone: str | None
    personal_phone: str | None = Field(description="Masked unless your role manages this grid's staff.")
    account_id: int | None


class CardStaff(Schema):
    name: str
    role: GridStaffRole
    role_label: str
    phone: str | None = Field(
        description="Service phone in full, or the personal mobile masked (138****1234)."
    )


class GridCard(Schema):
    grid: AreaRef
    community: AreaRef | None
    street: AreaRef | None
    grid_kind: GridKind | None
    grid_kind_label: str | None
    management_type: ManagementType | None
    management_type_label: str | None
    area_m2: float | None
    households: int
    residents: int
    staff: list[CardStaff]


# ---- buildings, households, residents -----------------------------------------------------------


class BuildingCreate(Schema):
    micro_grid_id: PrimaryKey
    code: str | None = Field(
        default=None,
        pattern=r"^[0-9A-Za-z-]{4,32}$",
        description="Optional; default is the micro-grid code plus a 3-digit number.",
    )
    name: Name = Field(examples=["龙锦花园3幢"])
    address: Name = Field(examples=["新北区三井街道龙锦社区龙锦花园3幢"])
    unit_count: int = Field(default=1, ge=1, le=50)
    floor_count: int | None = Field(default=None, ge=1, le=200)
    lat: float | None = Field(default=None, ge=3.0, le=54.0)
    lng: float | None = Field(default=None, ge=73.0, le=136.0)


class BuildingUpdate(Schema):
    micro_grid_id: PrimaryKey | None = None
    name: Name | None = None
    address: Name | None = None
    unit_count: int | None = Field(default=None, ge=1, le=50)
    floor_count: int | None = Field(default=None, ge=1, le=200)
    lat: float | None = Field(default=None, ge=3.0, le=54.0)
    lng: float | None = Field(default=None, ge=73.0, le=136.0)


class BuildingRead(Schema):
    id: int
    code: str
    micro_grid_id: int
    area_code: str
    name: str
    address: str
    unit_count: int
    floor_count: int | None
    lat: float | None
    lng: float | None


Occupancy = Literal["owner", "rented", "vacant", "other"]


class HouseholdCreate(Schema):
    building_id: PrimaryKey
    unit_no: str = Field(default="", max_length=8, pattern=r"^[0-9A-Za-z]*$", examples=["2"])
    room_no: str = Field(min_length=1, max_length=16, pattern=r"^[0-9A-Za-z-]+$", examples=["301"])
    occupancy: Occupancy = "owner"


class HouseholdRead(Schema):
    id: int
    code: str
    building_id: int
    area_code: str
    unit_no: str
    room_no: str
    occupancy: Occupancy
    address: str = ""
    resident_count: int = 0


def _id_number(v: str) -> str:
    try:
        return parse_id_number(v)[0]
    except IdNumberError as exc:
        raise ValueError(f"identity number invalid: {exc}") from None


IdNumber = Annotated[
    str, Field(min_length=18, max_length=18, examples=["320411199003071234"]), AfterValidator(_id_number)
]


class ResidentCreate(Schema):
    household_id: PrimaryKey
    name: PersonName
    id_number: IdNumber = Field(
        description="18-character resident identity number (GB 11643); gender and "
        "birth date are read from it."
    )
    phone: Phone | None = None
    relation: Relation = "其他"
    tags: list[ResidentTag] = Field(default_factory=list, max_length=len(RESIDENT_TAGS))

    @field_validator("tags")
    @classmethod
    def _unique_tags(cls, v: list[str]) -> list[str]:
        return list(dict.fromkeys(v))


class ResidentUpdate(Schema):
    name: PersonName | None = None
    phone: Phone | None = None
    relation: Relation | None = None
    tags: list[ResidentTag] | None = Field(default=None, max_length=len(RESIDENT_TAGS))


class ResidentMoveCreate(Schema):
    to_household_id: PrimaryKey
    reason: Annotated[str, Field(max_length=200), AfterValidator(no_nul)] | None = None


class ResidentMoveRead(Schema):
    id: int
    from_household_id: int
    to_household_id: int
    moved_at: datetime
    moved_by: str
    reason: str | None


class ResidentRead(Schema):
    id: int
    household_id: int
    area_code: str
    name: str
    gender: Literal["M", "F"]
    age: int
    id_number: str = Field(description="Masked (3204**********1234) unless revealed by a role that needs it.")
    phone: str | None = Field(description="Masked unless revealed.")
    relation: str
    tags: list[str]
    created_at: datetime


class ResidentDetail(ResidentRead):
    moves: list[ResidentMoveRead] = Field(default_factory=list)


class IdLookup(Schema):
    id_number: IdNumber


class IdentityCheck(Schema):
    """What a resident proves in the mini-program: name, phone and the last 4 of their number."""

    name: PersonName
    phone: Phone
    id_last4: str = Field(pattern=r"^[0-9]{3}[0-9Xx]$")


class IdentityMatch(Schema):
    resident_id: int
    household_id: int
    area_code: str


# ---- party organisation -------------------------------------------------------------------------


class PartyOrgCreate(Schema):
    kind: Literal["committee", "branch", "group"]
    name: Name
    parent_id: PrimaryKey | None = Field(default=None, description="A branch's committee, a group's branch.")
    community_id: PrimaryKey
    secretary_name: PersonName | None = None


class PartyOrgRead(Schema):
    id: int
    kind: Literal["committee", "branch", "group"]
    name: str
    parent_id: int | None
    community_id: int
    area_code: str
    secretary_name: str | None


class CoverageCreate(Schema):
    kind: Literal["party_central", "representative"] = Field(
        description=(
            "party_central: a party-member central household (党员中心户) covering 20–30 neighbouring households; "
            "representative: a resident representative (居民代表) covering 10–15."
        )
    )
    resident_id: PrimaryKey
    party_org_id: PrimaryKey | None = Field(
        default=None, description="For party_central: its building group."
    )
    household_ids: list[PrimaryKey] = Field(min_length=1, max_length=30)


class CoverageSet(Schema):
    kind: Literal["party_central", "representative"]
    resident: CoveringPerson
    household_ids: list[int]
    warnings: list[str] = Field(default_factory=list)


class CoveringPerson(Schema):
    resident_id: int
    name: str
    household_id: int
    household_code: str
    phone: str | None


class HouseholdCoverage(Schema):
    household: HouseholdRead
    micro_grid: AreaRef | None
    grid: AreaRef | None
    community: AreaRef | None
    grid_staff: list[CardStaff]
    party_central: CoveringPerson | None
    representative: CoveringPerson | None
    party_group: PartyOrgRead | None


# ---- accounts and tokens ------------------------------------------------------------------------


class TokenRead(Schema):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int


class StaffAccountCreate(Schema):
    username: str = Field(min_length=3, max_length=64, pattern=r"^[a-z0-9][a-z0-9._-]+$")
    password: str = Field(min_length=12, max_length=128, description="At least 12 characters.")
    role: StaffRole
    scope: list[Annotated[str, Field(pattern=r"^[0-9A-Za-z_-]{1,64}$")]] = Field(
        default_factory=list,
        max_length=20,
        description="Area codes for area roles; a department code for department_handler; a member-unit "
        "code for unit_liaison; a platform name for integration.",
    )
    display_name: PersonName
    phone: Phone | None = None


class StaffAccountUpdate(Schema):
    password: str | None = Field(default=None, min_length=12, max_length=128)
    scope: list[Annotated[str, Field(pattern=r"^[0-9A-Za-z_-]{1,64}$")]] | None = Field(
        default=None, max_length=20
    )
    display_name: PersonName | None = None
    phone: Phone | None = None
    is_active: bool | None = None


class StaffAccountRead(Schema):
    id: int
    username: str
    role: StaffRole
    scope: list[str]
    display_name: str
    phone: str | None
    is_active: bool
    locked_until: datetime | None
    last_login_at: datetime | None
    created_at: datetime


class Me(Schema):
    sub: str
    role: str
    scope: list[str]
    expires_at: int


# ---- import and statistics ----------------------------------------------------------------------


class ImportRowError(Schema):
    row: int = Field(description="Spreadsheet row number (the header is row 1).")
    column: str | None
    reason: str


class ImportProblem(ProblemDetail):
    """The 422 of an import: a rejected file lists each bad row (row, column, reason) under `errors`, with
    `error_count` (the list stops at the configured maximum); a malformed request lists its bad fields
    (loc, msg), like every validation problem."""

    errors: list[ImportRowError | FieldError] | None = None
    error_count: int | None = Field(default=None, description="How many errors the file has in all.")


class ImportResult(Schema):
    rows: int
    households_created: int
    residents_created: int
    seconds: float


class AreaStats(Schema):
    area: AreaRef
    households: int
    residents: int
    by_tag: dict[str, int]
    staff: int
    warnings: list[str]
    children: list[AreaStats] = Field(default_factory=list)


CoverageSet.model_rebuild()
AreaStats.model_rebuild()


def age_on(born: date, today: date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))
