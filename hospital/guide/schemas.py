"""What the guide API accepts (`...Args`, unknown fields refused) and what it shows."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from hospital.guide.models import MapNodeKind
from hospital.guide.triage import ENTRY_KINDS, shipped_lexicon

CODE = validate.Regexp(r"^[A-Za-z0-9_-]{1,32}$", error="Use 1 to 32 letters, digits, '-' or '_'.")
KEY = validate.Regexp(r"^[a-z0-9_]{1,64}$", error="Use 1 to 64 lower-case letters, digits or '_'.")
WORD = fields.Str(validate=validate.Length(min=1, max=40))


class TriageQueryArgs(Schema):
    q = fields.Str(required=True, validate=validate.Length(min=1, max=200))


class SuggestionOut(Schema):
    code = fields.Str(metadata={"description": "department code, service code, or JZK (emergency)"})
    kind = fields.Str(metadata={"description": "department, service or emergency"})
    name_zh = fields.Str()
    name_en = fields.Str()
    clinician_zh = fields.Str()
    clinician_en = fields.Str()
    reason_zh = fields.Str(metadata={"description": "发热、咳嗽 → 儿科"})
    reason_en = fields.Str()
    score = fields.Float()
    url = fields.Str(allow_none=True, metadata={"description": "where to act on it, if anywhere"})
    service_point = fields.Str(
        allow_none=True, metadata={"description": "a place to show the way to (GET /route)"}
    )


class TriageOut(Schema):
    q = fields.Str()
    emergency = fields.Bool(metadata={"description": "red-flag words: call 120 / go to the ED now"})
    emergency_message_zh = fields.Str(allow_none=True)
    emergency_message_en = fields.Str(allow_none=True)
    red_flags = fields.List(fields.Str())
    child = fields.Bool()
    pregnancy = fields.Bool()
    suggestions = fields.List(fields.Nested(SuggestionOut))


def _target_codes() -> list[str]:
    return list(shipped_lexicon().targets)


class EntryArgs(Schema):
    kind = fields.Str(required=True, validate=validate.OneOf(ENTRY_KINDS))
    label_zh = fields.Str(required=True, validate=validate.Length(min=1, max=40))
    label_en = fields.Str(required=True, validate=validate.Length(min=1, max=60))
    zh = fields.List(WORD, load_default=list, validate=validate.Length(max=100))
    en = fields.List(WORD, load_default=list, validate=validate.Length(max=100))
    pinyin = fields.List(WORD, load_default=list, validate=validate.Length(max=100))
    targets = fields.Dict(
        keys=fields.Str(validate=validate.OneOf(_target_codes())),
        values=fields.Float(validate=validate.Range(min=0, max=10)),
        load_default=dict,
    )
    active = fields.Bool(load_default=True)


class EntryOut(Schema):
    key = fields.Str()
    kind = fields.Str()
    label_zh = fields.Str()
    label_en = fields.Str()
    zh = fields.List(fields.Str())
    en = fields.List(fields.Str())
    pinyin = fields.List(fields.Str(), metadata={"description": "extra Latin spellings"})
    pinyin_full = fields.List(fields.Str(), metadata={"description": "derived from zh"})
    pinyin_initials = fields.List(fields.Str(), metadata={"description": "derived from zh"})
    targets = fields.Dict(keys=fields.Str(), values=fields.Float())
    active = fields.Bool()
    edited = fields.Bool()
    shipped = fields.Bool()


class FloorArgs(Schema):
    building = fields.Str(required=True, validate=validate.Length(min=1, max=50))
    floor = fields.Str(required=True, validate=validate.Length(min=1, max=10))
    name_zh = fields.Str(load_default="", validate=validate.Length(max=100))
    name_en = fields.Str(load_default="", validate=validate.Length(max=100))
    width = fields.Int(load_default=100, validate=validate.Range(min=10, max=1000))
    height = fields.Int(load_default=60, validate=validate.Range(min=10, max=1000))


class NodeArgs(Schema):
    code = fields.Str(required=True, validate=CODE)
    kind = fields.Str(required=True, validate=validate.OneOf([k.value for k in MapNodeKind]))
    building = fields.Str(required=True, validate=validate.Length(min=1, max=50))
    floor = fields.Str(required=True, validate=validate.Length(min=1, max=10))
    x = fields.Int(required=True, validate=validate.Range(min=0, max=1000))
    y = fields.Int(required=True, validate=validate.Range(min=0, max=1000))
    name_zh = fields.Str(load_default="", validate=validate.Length(max=100))
    name_en = fields.Str(load_default="", validate=validate.Length(max=100))
    service_point = fields.Str(validate=CODE, metadata={"description": "a service point's code"})


class EdgeArgs(Schema):
    from_ = fields.Str(required=True, data_key="from", attribute="from", validate=CODE)
    to = fields.Str(required=True, validate=CODE)
    length_m = fields.Int(required=True, validate=validate.Range(min=1, max=10000))
    step_free = fields.Bool(load_default=True)


class MapArgs(Schema):
    floors = fields.List(fields.Nested(FloorArgs), required=True, validate=validate.Length(max=200))
    nodes = fields.List(fields.Nested(NodeArgs), required=True, validate=validate.Length(max=5000))
    edges = fields.List(fields.Nested(EdgeArgs), required=True, validate=validate.Length(max=20000))


class MapOut(MapArgs):
    pass


class MapCountsOut(Schema):
    floors = fields.Int()
    nodes = fields.Int()
    edges = fields.Int()


class RouteQueryArgs(Schema):
    to_point = fields.Str(
        required=True, validate=CODE, metadata={"description": "service point or node code"}
    )
    from_point = fields.Str(validate=CODE, metadata={"description": "default: the best entrance"})
    accessible = fields.Bool(
        load_default=False, metadata={"description": "step-free: avoid stairs and steps"}
    )
    lang = fields.Str(load_default="zh", validate=validate.OneOf(["zh", "en"]))


class StepOut(Schema):
    kind = fields.Str(metadata={"description": "start, walk, lift, stairs or arrive"})
    zh = fields.Str()
    en = fields.Str()
    floor = fields.Str()
    nodes = fields.List(fields.Str())


class FloorSvgOut(Schema):
    floor = fields.Str()
    svg = fields.Str()


class RouteOut(Schema):
    nodes = fields.List(fields.Str())
    length_m = fields.Int()
    step_free = fields.Bool()
    steps = fields.List(fields.Nested(StepOut))
    floors = fields.List(fields.Nested(FloorSvgOut))
