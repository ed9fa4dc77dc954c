"""Field specs: one declaration per model class drives its XML form and its JSON form.

A :class:`Spec` lists a dataclass's fields, each with a converter and a place in XML:

    Spec(Tag, "tag", attr("id", UUID_), attr("name", STR), attr("color", COLOR))

A converter (:class:`Scalar`) turns a value into XML text and back, and into a JSON
value and back with the checks of the JSON decoder (type, UUID, enum member; a wrong
value raises :class:`FieldError` whose path grows as it leaves nested containers). A
:class:`JsonCodec` converter has only the JSON half (lists, nested objects).

XML places: an attribute (``attr``; absent when the value is None), the text of one child
element (``child``; absent when None), one child per item (``each``: the item in the
child's text or in one attribute; ``keyed``: a ``(key, value)`` pair as attribute and
text), nested objects (``objects``, ``one``), or no XML at all (``json_only``: the parts
whose XML is structural and written by hand in ``_xml.py``). A field added after the
forms were fixed is wrapped in ``later``: its JSON key is left out while it is None, so
a policy that does not use it keeps its JSON bytes (and their digest). Fields are listed in XML
order (attributes in the order they are written, children likewise); JSON keys follow
the dataclass's field order. A spec that misses or invents a field fails at import. The
model's specs are in ``_specs.py``.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast
from uuid import UUID

from lxml import etree

from ._errors import PolicyError

__all__ = [
    "BOOL",
    "COLOR",
    "INT",
    "INTS",
    "LOWER",
    "NAMESPACE",
    "STR",
    "UUID_",
    "WORDS",
    "Field",
    "FieldError",
    "JsonCodec",
    "Scalar",
    "Spec",
    "attr",
    "child",
    "each",
    "enum_of",
    "enum_set",
    "json_only",
    "keyed",
    "later",
    "many",
    "objects",
    "one",
    "optional",
    "qname",
]

NAMESPACE = "urn:xenon:policy:1"
"""The XML namespace of format version 1; other namespaces are refused."""
_NS = f"{{{NAMESPACE}}}"

T = TypeVar("T")
K = TypeVar("K")
E = TypeVar("E", bound=enum.Enum)


def qname(name: str) -> str:
    """The namespaced (Clark notation) name of a policy element."""
    return _NS + name


class FieldError(PolicyError):
    """A JSON value was refused; ``path`` collects segments innermost first.

    Not a ``ValueError``: a converter's ``except ValueError`` must not swallow a nested
    field's refusal (and lose its path)."""

    code = "policy.field"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.path: list[str] = []


def within(segment: str, load: Callable[[Any], T], value: Any) -> T:
    """Runs ``load(value)``, adding ``segment`` to the path of a :class:`FieldError`."""
    try:
        return load(value)
    except FieldError as bad:
        bad.path.append(segment)
        raise


def _type_name(value: Any) -> str:
    return type(value).__name__


def _same(value: T) -> T:
    return value


# ----------------------------------------------------------------------- converters


@dataclass(frozen=True)
class JsonCodec(Generic[T]):
    """The JSON half of a converter: ``dump`` to a JSON-safe value, ``load`` back."""

    dump: Callable[[T], Any]
    load: Callable[[Any], T]


@dataclass(frozen=True)
class Scalar(JsonCodec[T]):
    """A converter with an XML text form too (``text`` writes, ``parse`` reads)."""

    text: Callable[[T], str]
    parse: Callable[[str], T]
    nullable: bool = False


def _checked(tp: type[T], label: str) -> Callable[[Any], T]:
    def load(value: Any) -> T:
        if type(value) is not tp:
            raise FieldError(f"expected {label}, got {_type_name(value)}")
        checked: T = value
        return checked

    return load


def _load_uuid(value: Any) -> UUID:
    if not isinstance(value, str):
        raise FieldError("expected a UUID string")
    try:
        return UUID(value)
    except ValueError:
        raise FieldError(f"not a UUID: {value!r}") from None


def _parse_bool(text: str) -> bool:
    return text.strip() in {"true", "1"}


def _bool_text(value: bool) -> str:
    return "true" if value else "false"


STR: Scalar[str] = Scalar(_same, _checked(str, "a string"), _same, _same)
LOWER: Scalar[str] = Scalar(_same, _checked(str, "a string"), _same, str.lower)
"""A string read lower-cased from XML (PCI addresses); JSON keeps it as given."""
INT: Scalar[int] = Scalar(_same, _checked(int, "an integer"), str, int)
BOOL: Scalar[bool] = Scalar(_same, _checked(bool, "true or false"), _bool_text, _parse_bool)
UUID_: Scalar[UUID] = Scalar(str, _load_uuid, str, UUID)


def enum_of(tp: type[E]) -> Scalar[E]:
    """A member of ``tp``, written as its value."""
    allowed = ", ".join(str(m.value) for m in tp)

    def load(value: Any) -> E:
        try:
            return tp(value)
        except ValueError:
            raise FieldError(f"{value!r} is not one of {allowed}") from None

    def text(member: E) -> str:
        return str(member.value)

    return Scalar(text, load, text, tp)


def optional(inner: Scalar[T]) -> Scalar[T | None]:
    """``inner`` or None (JSON null; in XML the attribute or element is left out)."""

    def dump(value: T | None) -> Any:
        return None if value is None else inner.dump(value)

    def load(value: Any) -> T | None:
        return None if value is None else inner.load(value)

    def text(value: T | None) -> str:
        assert value is not None  # Spec.write leaves None out
        return inner.text(value)

    return Scalar(dump, load, text, inner.parse, nullable=True)


_LISTS: tuple[type, ...] = (list, tuple)


def _items(value: Any, lists: tuple[type, ...] = _LISTS) -> list[Any] | tuple[Any, ...]:
    if not isinstance(value, lists):
        raise FieldError(f"expected a list, got {_type_name(value)}")
    return cast("list[Any] | tuple[Any, ...]", value)


def _load_all(item: Callable[[Any], T], values: list[Any] | tuple[Any, ...]) -> list[T]:
    out: list[T] = []
    for index, value in enumerate(values):
        try:
            out.append(item(value))
        except FieldError as bad:  # within(), inlined: this loop runs per list item
            bad.path.append(f"[{index}]")
            raise
    return out


def many(item: JsonCodec[T], lists: tuple[type, ...] = _LISTS) -> JsonCodec[tuple[T, ...]]:
    """A tuple, in JSON a list (one of the ``lists`` types when read) of ``item``."""

    def dump(values: tuple[T, ...]) -> list[Any]:
        return [item.dump(v) for v in values]

    def load(value: Any) -> tuple[T, ...]:
        return tuple(_load_all(item.load, _items(value, lists)))

    return JsonCodec(dump, load)


def _word_list(words: Iterable[str]) -> str:
    return " ".join(words)


def _split(text: str) -> tuple[str, ...]:
    return tuple(text.split())


def _words_dump(values: tuple[str, ...]) -> list[str]:
    return list(values)


WORDS: Scalar[tuple[str, ...]] = Scalar(_words_dump, many(STR).load, _word_list, _split)
"""Space-separated words in XML (CPU flags), a list of strings in JSON."""


def _ints_dump(values: frozenset[int]) -> list[int]:
    return sorted(values)


def _ints_load(value: Any) -> frozenset[int]:
    return frozenset(_load_all(INT.load, _items(value)))


def _ints_text(values: frozenset[int]) -> str:
    return " ".join(str(n) for n in sorted(values))


def _ints_parse(text: str) -> frozenset[int]:
    return frozenset(int(tok) for tok in text.split())


INTS: Scalar[frozenset[int]] = Scalar(_ints_dump, _ints_load, _ints_text, _ints_parse)
"""A set of integers: sorted, space-separated in XML, a sorted list in JSON."""


def enum_set(tp: type[E]) -> Scalar[frozenset[E]]:
    """A set of ``tp`` members: sorted values, space-separated in XML, a list in JSON."""
    member = enum_of(tp)

    def dump(values: frozenset[E]) -> list[Any]:
        return sorted(str(v.value) for v in values)

    def load(value: Any) -> frozenset[E]:
        return frozenset(_load_all(member.load, _items(value)))

    def text(values: frozenset[E]) -> str:
        return " ".join(dump(values))

    def parse(text: str) -> frozenset[E]:
        return frozenset(tp(tok) for tok in text.split())

    return Scalar(dump, load, text, parse)


def _color_dump(rgb: tuple[int, int, int]) -> list[int]:
    return list(rgb)


def _color_load(value: Any) -> tuple[int, int, int]:
    items = _items(value)
    if len(items) != 3:
        raise FieldError(f"expected 3 items, got {len(items)}")
    r, g, b = _load_all(INT.load, items)
    return (r, g, b)


def _color_text(rgb: tuple[int, int, int]) -> str:
    r, g, b = rgb
    return f"#{r:02x}{g:02x}{b:02x}"


def _color_parse(text: str) -> tuple[int, int, int]:
    return (int(text[1:3], 16), int(text[3:5], 16), int(text[5:7], 16))


COLOR: Scalar[tuple[int, int, int]] = Scalar(_color_dump, _color_load, _color_text, _color_parse)
"""An RGB colour: ``#rrggbb`` in XML, ``[r, g, b]`` in JSON."""


def _pair(key: JsonCodec[K], value: JsonCodec[T]) -> JsonCodec[tuple[K, T]]:
    def dump(pair: tuple[K, T]) -> list[Any]:
        return [key.dump(pair[0]), value.dump(pair[1])]

    def load(raw: Any) -> tuple[K, T]:
        items = _items(raw)
        if len(items) != 2:
            raise FieldError(f"expected 2 items, got {len(items)}")
        return (within("[0]", key.load, items[0]), within("[1]", value.load, items[1]))

    return JsonCodec(dump, load)


# --------------------------------------------------------------------------- fields

_Write = Callable[[Any, Any], None]
_Read = Callable[[Any], Any]


@dataclass(frozen=True)
class Field:
    """One dataclass field: its JSON converter and, unless None, its XML writer/reader."""

    name: str
    json: JsonCodec[Any]
    write: _Write | None = None
    read: _Read | None = None
    attribute: tuple[str, Scalar[Any]] | None = None
    """For an attribute: its name and converter (Spec reads and writes those itself)."""
    later: bool = False
    """Added after format 1 was fixed: the JSON key is left out while the value is None."""


def _dashed(name: str) -> str:
    return name.replace("_", "-")


def _sub(parent: Any, tag: str) -> Any:
    return etree.SubElement(parent, qname(tag))


def attr(name: str, conv: Scalar[Any], xml: str | None = None) -> Field:
    """An XML attribute (``xml``, default: ``name`` with dashes); None leaves it out."""
    key = xml or _dashed(name)

    def write(el: Any, value: Any) -> None:
        if value is not None:
            el.set(key, conv.text(value))

    def read(el: Any) -> Any:
        raw = el.get(key)
        if raw is None:
            # The schema requires every attribute that is not optional.
            return None
        return conv.parse(raw)

    return Field(name, conv, write, read, attribute=(key, conv))


def child(name: str, conv: Scalar[Any], xml: str | None = None) -> Field:
    """The text of one child element; None leaves it out, an absent one reads as None
    (or as the empty text's value when ``conv`` is not optional)."""
    tag = xml or _dashed(name)

    def write(el: Any, value: Any) -> None:
        if value is not None:
            _sub(el, tag).text = conv.text(value)

    def read(el: Any) -> Any:
        found = el.find(qname(tag))
        if found is None:
            return None if conv.nullable else conv.parse("")
        return conv.parse(found.text or "")

    return Field(name, conv, write, read)


def each(name: str, item: Scalar[Any], tag: str, *, in_attr: str | None = None) -> Field:
    """A tuple, one ``<tag>`` child per item holding it as text or in ``in_attr``."""

    def write(el: Any, values: Any) -> None:
        for value in values:
            sub = _sub(el, tag)
            if in_attr is None:
                sub.text = item.text(value)
            else:
                sub.set(in_attr, item.text(value))

    def read(el: Any) -> Any:
        if in_attr is None:
            return tuple(item.parse(c.text or "") for c in el.iterfind(qname(tag)))
        return tuple(item.parse(c.attrib[in_attr]) for c in el.iterfind(qname(tag)))

    return Field(name, many(item), write, read)


def keyed(name: str, key: Scalar[Any], value: Scalar[Any], tag: str, key_attr: str) -> Field:
    """A tuple of ``(key, value)`` pairs, each a ``<tag key_attr="key">value</tag>``."""

    def write(el: Any, pairs: Any) -> None:
        for k, v in pairs:
            sub = _sub(el, tag)
            sub.set(key_attr, key.text(k))
            sub.text = value.text(v)

    def read(el: Any) -> Any:
        return tuple(
            (key.parse(c.attrib[key_attr]), value.parse(c.text or ""))
            for c in el.iterfind(qname(tag))
        )

    return Field(name, many(_pair(key, value)), write, read)


def objects(name: str, spec: Spec[Any], tag: str | None = None) -> Field:
    """A tuple of nested objects, each a ``<tag>`` child written by ``spec``."""
    element = tag or spec.tag

    def write(el: Any, values: Any) -> None:
        for value in values:
            spec.write(el, value, element)

    def read(el: Any) -> Any:
        return tuple(spec.read(c) for c in el.iterfind(qname(element)))

    return Field(name, many(spec.json), write, read)


def one(name: str, spec: Spec[Any], tag: str | None = None) -> Field:
    """One nested object, a ``<tag>`` child written by ``spec``."""
    element = tag or spec.tag

    def write(el: Any, value: Any) -> None:
        spec.write(el, value, element)

    def read(el: Any) -> Any:
        return spec.read(el.find(qname(element)))

    return Field(name, spec.json, write, read)


def later(field: Field) -> Field:
    """``field``, added after the forms were fixed: its JSON key is written only when the
    value is not None (its XML is absent then anyway), so older documents keep their
    bytes; reading accepts it absent."""
    return dataclasses.replace(field, later=True)


def json_only(name: str, conv: JsonCodec[Any]) -> Field:
    """A field whose XML is written by hand (it is structure, not a value)."""
    return Field(name, conv)


# ---------------------------------------------------------------------------- specs


class Spec(Generic[T]):
    """The XML element and JSON object of one dataclass, from its field list.

    Args:
        cls: The (frozen) dataclass.
        tag: Its element's local name.
        fields: One per dataclass field, in XML order.
        wrap_errors: When loading JSON, report the constructor's TypeError/ValueError
            as a :class:`FieldError` at this object's path.
        name_limit: Cut unknown field names to this many characters in messages.

    Raises:
        TypeError: The fields are not exactly the dataclass's fields.
    """

    def __init__(
        self,
        cls: type[T],
        tag: str,
        *fields: Field,
        wrap_errors: bool = False,
        name_limit: int | None = None,
    ) -> None:
        declared = dataclasses.fields(cast(Any, cls))
        order = {f.name: i for i, f in enumerate(declared)}
        names = [f.name for f in fields]
        if sorted(names) != sorted(order):
            raise TypeError(f"spec of {cls.__name__} lists {names}, fields are {list(order)}")
        self.cls = cls
        self.tag = tag
        self.fields = fields
        self._json_order = tuple(sorted(fields, key=lambda f: order[f.name]))
        self._later = tuple(f.name for f in fields if f.later)
        self._known = frozenset(order)
        self._wrap_errors = wrap_errors
        self._name_limit = name_limit
        self._required = frozenset(
            f.name
            for f in declared
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        )
        self._loads = tuple(
            (f.name, f.json.load, f.name in self._required) for f in self._json_order
        )
        self.json: JsonCodec[T] = JsonCodec(self.dump, self.load)
        self._attributes = tuple(
            (f.name, f.attribute[0], f.attribute[1].text, f.attribute[1].parse)
            for f in fields
            if f.attribute is not None
        )
        self._elements = tuple((f.name, f.write, f.read) for f in fields if f.attribute is None)

    # -- XML ---------------------------------------------------------------------

    def write(self, parent: Any, obj: T, tag: str | None = None) -> Any:
        """Appends ``obj`` to ``parent`` as a ``<tag>`` element and returns it."""
        # Attributes go in with the element (one call, in field order): a set() per
        # attribute made writing a policy a fifth slower than the hand-written code.
        attrib: dict[str, str] = {}
        for name, key, text, _ in self._attributes:
            value = getattr(obj, name)
            if value is not None:
                attrib[key] = text(value)
        el = etree.SubElement(parent, qname(tag or self.tag), attrib)
        for name, write, _ in self._elements:
            if write is not None:
                write(el, getattr(obj, name))
        return el

    def read(self, el: Any) -> T:
        """Builds the object from its (schema-valid) element."""
        kwargs: dict[str, Any] = {}
        attrib = el.attrib
        for name, key, _, parse in self._attributes:
            raw = attrib.get(key)
            # The schema requires every attribute that is not optional.
            kwargs[name] = None if raw is None else parse(raw)
        for name, _, read in self._elements:
            if read is None:
                raise TypeError(f"{self.cls.__name__}.{name} has no XML form")
            kwargs[name] = read(el)
        return self.cls(**kwargs)

    # -- JSON --------------------------------------------------------------------

    def dump(self, obj: T) -> dict[str, Any]:
        """The JSON-safe dict of ``obj``; keys in the dataclass's field order."""
        body = {f.name: f.json.dump(getattr(obj, f.name)) for f in self._json_order}
        for name in self._later:
            if body[name] is None:
                del body[name]
        return body

    def load(self, value: Any) -> T:
        """Builds the object from a JSON dict; fields with a default may be absent.

        Raises:
            FieldError: Not an object, an unknown or missing field, a wrong value.
        """
        if not isinstance(value, Mapping):
            raise FieldError(f"expected an object, got {_type_name(value)}")
        if not self._known.issuperset(value):
            unknown = sorted(str(k)[: self._name_limit] for k in set(value) - self._known)
            raise FieldError(f"unknown field(s) {', '.join(unknown)}")
        kwargs: dict[str, Any] = {}
        for name, load, required in self._loads:
            if name in value:
                try:
                    kwargs[name] = load(value[name])
                except FieldError as bad:  # within(), inlined: this runs per field
                    bad.path.append(f".{name}")
                    raise
            elif required:
                missing = FieldError("missing")
                missing.path.append(f".{name}")
                raise missing
        if not self._wrap_errors:
            return self.cls(**kwargs)
        try:
            return self.cls(**kwargs)
        except (TypeError, ValueError) as exc:
            raise FieldError(str(exc)) from None
