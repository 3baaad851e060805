"""OpenAPI text for the report endpoints: the multipart form (parsed by hand, so FastAPI cannot infer it),
the replay answer, the photo response and the status codes residents see."""

from __future__ import annotations

from typing import Any

from services.mobile.reports.schemas import FORM_EXAMPLE, ReportForm, ReportRead, example
from services.mobile.reports.status import LABELS
from shared.problems import PROBLEM_BASE, PROBLEM_JSON, problems


def _field(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    info = ReportForm.model_fields[name]
    return {**schema, "description": info.description or ""}


REPORT_FORM_SCHEMA: dict[str, Any] = {
    "title": "ReportForm",
    "type": "object",
    "required": ["text"],
    "properties": {
        "text": _field("text", {"type": "string", "minLength": 5, "maxLength": 500}),
        "lat": _field("lat", {"type": "number", "minimum": -90, "maximum": 90}),
        "lng": _field("lng", {"type": "number", "minimum": -180, "maximum": 180}),
        "address": _field("address", {"type": "string", "minLength": 2, "maxLength": 200}),
        "anonymous": _field("anonymous", {"type": "boolean", "default": False}),
        "contact_allowed": _field("contact_allowed", {"type": "boolean", "default": False}),
        "photos": {
            "type": "array",
            "items": {"type": "string", "format": "binary"},
            "maxItems": 9,
            "description": "0–9 photos, each a part named `photos`: JPEG, PNG or WebP by content (a text "
            "file named .jpg is a 415), at most 5 MB (413) and 40 million pixels. A 10th photo is a 422 "
            "`too-many-photos`.",
        },
    },
}

REPORT_FORM_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": REPORT_FORM_SCHEMA,
                "example": FORM_EXAMPLE,
                "encoding": {"photos": {"contentType": "image/jpeg, image/png, image/webp"}},
            }
        },
    }
}

_REPLAY = {**(ReportRead.model_config.get("json_schema_extra") or {}).get("examples", [{}])[0]}  # type: ignore[union-attr]

REPORT_RESPONSES: dict[int | str, dict[str, Any]] = {
    201: {
        "description": "Filed: the ticket number and where it stands.",
        "content": example(ReportRead),
        "headers": {"Location": {"description": "The ticket's detail, /m/v1/tickets/{number}.",
                                 "schema": {"type": "string"}}},
    },
    200: {
        "model": ReportRead,
        "description": "A repeat of an earlier report with the same Idempotency-Key: the report it made "
        "(header `Idempotent-Replayed: true`); nothing new is filed.",
        "content": {"application/json": {"example": _REPLAY}},
    },
    **problems(401, 403, 413, 415, 422, 429, 502, 503),
}  # fmt: skip

PHOTO_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The photo, EXIF-stripped; `Cache-Control: public, max-age=31536000, immutable`.",
        "content": {
            "image/jpeg": {"schema": {"type": "string", "format": "binary"}},
            "image/png": {"schema": {"type": "string", "format": "binary"}},
            "image/webp": {"schema": {"type": "string", "format": "binary"}},
        },
    },
    304: {"description": "Unchanged (If-None-Match matched the ETag)."},
}

STATUS_QUERY_DOC = "Only tickets in this state: " + ", ".join(f"`{c}` {label}" for c, label in LABELS.items())


def _p(type_: str, title: str, status: int, detail: str, instance: str, **extra: Any) -> dict[str, Any]:
    return {"type": PROBLEM_BASE + type_, "title": title, "status": status, "detail": detail,
            "instance": instance, **extra}  # fmt: skip


def with_examples(
    responses: dict[int | str, dict[str, Any]], examples: dict[int, dict[str, dict[str, Any]]]
) -> dict[int | str, dict[str, Any]]:
    """Add named problem examples to `problems(...)` entries."""
    out = {k: {**v} for k, v in responses.items()}
    for code, named in examples.items():
        content = {**out[code].get("content", {})}
        media = {**content.get(PROBLEM_JSON, {}), "examples": {k: {"value": v} for k, v in named.items()}}
        content[PROBLEM_JSON] = media
        out[code]["content"] = content
    return out


R, T = "/m/v1/reports", "/m/v1/tickets/SF20261206000123"
UNAVAILABLE = _p("upstream-unavailable", "A service this request needs is unavailable", 503,
                 "The dispatch service did not answer (ConnectError).", R, upstream="dispatch")  # fmt: skip

REPORT_RESPONSES = with_examples(
    REPORT_RESPONSES,
    {
        403: {"not bound": _p("not-bound", "Bind your household first", 403, "Bind your account to your "
              "household first (POST /m/v1/me/binding): reports are filed for the residents of this district.", R)},
        413: {"photo too large": _p("photo-too-large", "Photo too large", 413, "Photo 2 (IMG_2041.JPG) is larger "
              "than 5,242,880 bytes (5 MB), the most a photo may be; send a smaller one.", R, limit=5242880)},
        415: {"not a photo": _p("unsupported-photo", "Not a JPEG, PNG or WebP photo", 415, "Photo 1 is not a "
              "readable JPEG, PNG or WebP image (whatever its name says).", R)},
        422: {
            "too many photos": _p("too-many-photos", "Too many photos", 422, "A report takes at most 9 photos; "
                                  "this one has 10. Leave some out.", R, limit=9),
            "outside the district": _p("outside-district", "The location is outside the district", 422,
                                       "The location (39.9, 116.4) is outside the district this service covers. "
                                       "Report problems in your own district, or check that the phone's location "
                                       "is on (WGS84 coordinates).", R, lat=39.9, lng=116.4),
            "bad field": _p("validation-error", "Request validation failed", 422, "1 invalid field(s); first: "
                            "body.text: describe the problem in at least 5 characters (not counting spaces)", R,
                            errors=[{"loc": ["body", "text"], "msg": "describe the problem in at least 5 "
                                     "characters (not counting spaces)", "type": "value_error"}]),
        },
        429: {"daily limit": _p("too-many-requests", "Too many requests", 429, "Limit reached: at most 20 "
              "reports a day per resident. Try again in 3600 s.", R, retry_after=3600, limit=20)},
        503: {"dispatch down": UNAVAILABLE},
    },
)  # fmt: skip

NOT_FOUND = {"not yours or unknown": _p("ticket-not-found", "No such ticket of yours", 404,
             "You have no ticket SF20261206000123. Your tickets are listed at GET /m/v1/tickets.", T)}  # fmt: skip
DETAIL_RESPONSES = with_examples(
    problems(401, 404, 422, 502, 503),
    {404: NOT_FOUND, 503: {"dispatch down": {**UNAVAILABLE, "instance": T}}},
)
RATING_RESPONSES = with_examples(
    problems(401, 404, 409, 422, 502, 503),
    {
        404: NOT_FOUND,
        409: {
            "not closed yet": _p("not-ratable", "This ticket cannot be rated now", 409, "The ticket is 处理中 "
                                 "(in_progress); you can rate it once it is closed (待评价).", T + "/rating",
                                 ticket_status="handling"),
            "rated already": _p("not-ratable", "This ticket cannot be rated now", 409, "You have already rated "
                                "this ticket; a ticket is rated once.", T + "/rating", ticket_status="feedback"),
        },
    },
)  # fmt: skip

TOKEN_401 = {"no or expired token": _p("invalid-token", "The access token is not valid here", 401,
             "The access token has expired: get a new one with POST /m/v1/auth/refresh.", R)}  # fmt: skip
LIST_RESPONSES = with_examples(
    problems(401, 422),
    {
        401: TOKEN_401,
        422: {"bad cursor": _p("bad-cursor", "The cursor is not one this API gave out", 422,
                               "Pass back `next_cursor` exactly as a previous page gave it.", "/m/v1/tickets")},
    },
)  # fmt: skip
PHOTO_PROBLEMS = with_examples(
    problems(404, 422),
    {404: {"unknown photo": _p("photo-not-found", "No such photo", 404,
                               "No photo 3f1c2a9e-5b7d-4e21-9a0c-1d2e3f4a5b6c.", "/m/v1/photos/3f1c2a9e-…")}},
)  # fmt: skip
for _responses in (REPORT_RESPONSES, DETAIL_RESPONSES, RATING_RESPONSES):
    _responses.update(with_examples({401: _responses[401]}, {401: TOKEN_401}))
_UPSTREAM_502 = {"dispatch error": _p("upstream-error", "A service this request needs answered with an error", 502,
                 "The dispatch service answered 500.", T, upstream="dispatch")}  # fmt: skip
_BAD_NUMBER = {"bad number": _p("validation-error", "Request validation failed", 422, "1 invalid field(s); first: "
               "path.number: String should match pattern '^SF[0-9]{14}$'", T,
               errors=[{"loc": ["path", "number"], "msg": "String should match pattern '^SF[0-9]{14}$'",
                        "type": "string_pattern_mismatch"}])}  # fmt: skip
REPORT_RESPONSES.update(with_examples({502: REPORT_RESPONSES[502]}, {502: _UPSTREAM_502}))
DETAIL_RESPONSES.update(
    with_examples({k: DETAIL_RESPONSES[k] for k in (422, 502)}, {422: _BAD_NUMBER, 502: _UPSTREAM_502})
)
RATING_RESPONSES.update(
    with_examples(
        {k: RATING_RESPONSES[k] for k in (422, 502, 503)},
        {
            422: {"bad satisfaction": _p("validation-error", "Request validation failed", 422,
                  "1 invalid field(s); first: body.satisfaction: Input should be 'satisfied', "
                  "'basically_satisfied' or 'dissatisfied'", T + "/rating")},
            502: _UPSTREAM_502,
            503: {"dispatch down": {**UNAVAILABLE, "instance": T + "/rating"}},
        },
    )
)  # fmt: skip
PHOTO_PROBLEMS.update(with_examples({422: PHOTO_PROBLEMS[422]}, {422: {"not a photo id": _p(
    "validation-error", "Request validation failed", 422, "1 invalid field(s); first: path.photo_id: Input should "
    "be a valid UUID", "/m/v1/photos/42")}}))  # fmt: skip
