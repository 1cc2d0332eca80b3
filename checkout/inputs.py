"""The input boundary's rules: what any text, number or JSON document that
enters the app may be (architecture.md, "Where state lives"; issue 12).

Every value from outside (query strings, forms, JSON bodies, ``para=``, path
parts, the headers we read) passes here once, where it enters
(``checkout.web.boundary`` applies these rules to each request), so nothing
reaches the database, a signature or a template that it cannot hold:

- text is Unicode that UTF-8 can encode (no lone UTF-16 surrogates, which
  JSON's ``\\ud800`` escapes can carry) and holds no control characters but
  tab, line feed and carriage return (NUL above all: PostgreSQL's text type
  cannot store it);
- JSON is strict UTF-8, has no duplicate keys (two readers could see two
  different orders), integers that fit a BIGINT column, finite numbers (no
  ``NaN``/``Infinity``), and at most ``MAX_DEPTH`` levels of nesting.

Field-specific rules (a title's length, a bill_no's letters) stay with their
field in the domain modules; this module knows nothing of Flask.
"""

from __future__ import annotations

import json
import math
import re

# The deepest JSON any field allows: a body holds ``optional``/``analysis``/
# ``credit_card_info`` objects (2 levels); merchants' ``analysis`` may nest a
# little more. Anything deeper is refused before it is walked.
MAX_DEPTH = 8
# Integers must fit the BIGINT columns they may be compared with or stored in.
MAX_INTEGER = 2 ** 63 - 1
# Any one query-string or form value; longer fields are JSON bodies.
MAX_VALUE_CHARS = 16 * 1024

# C0 controls but tab, LF and CR; DEL and the C1 controls; UTF-16 surrogates.
_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


class BadInput(ValueError):
    """A value refused at the boundary: ``field`` names it (``optional.k``),
    ``problem`` says what is wrong, both safe to show and to log."""

    def __init__(self, field: str, problem: str):
        self.field = shown_name(field)
        self.problem = problem
        super().__init__(f"{self.field} {problem}")

    @property
    def message(self) -> str:
        return str(self)


def shown_name(name: str, limit: int = 60) -> str:
    """``name`` as it may appear in an answer or a log line: anything that is
    not printable (controls, surrogates) escaped, and cut short."""
    text = "".join(ch if ch.isprintable() and not "\ud800" <= ch <= "\udfff"
                   else f"\\u{ord(ch):04x}" for ch in name[:limit])
    return text + ("…" if len(name) > limit else "")


def text_problem(value: str) -> str | None:
    """Why ``value`` cannot be accepted as text, or None when it can."""
    found = _FORBIDDEN.search(value)
    if found is None:
        return None
    char = found.group()
    if "\ud800" <= char <= "\udfff":
        return "is not valid Unicode text (it holds a lone UTF-16 surrogate)"
    return f"must not contain control characters (it holds U+{ord(char):04X})"


def is_clean(value: str) -> bool:
    return _FORBIDDEN.search(value) is None


def check_text(value: str, field: str, *, max_chars: int | None = None) -> str:
    problem = text_problem(value)
    if problem:
        raise BadInput(field, problem)
    if max_chars is not None and len(value) > max_chars:
        raise BadInput(field, f"must be at most {max_chars} characters")
    return value


# --- JSON -------------------------------------------------------------------------------

def _unique_keys(field: str):
    def build(pairs: list[tuple[str, object]]) -> dict:
        data = dict(pairs)
        if len(data) != len(pairs):
            seen: set[str] = set()
            twice = next(key for key, _ in pairs if key in seen or seen.add(key))
            raise BadInput(field, f"holds the key {shown_name(twice)!r} twice")
        return data
    return build


def parse_json(raw: bytes | str, field: str) -> object:
    """The JSON document in ``raw`` under every rule above; ``BadInput``
    names ``field`` (or the part of it) that breaks one."""
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise BadInput(field, "is not valid UTF-8") from None
    if raw.startswith("\ufeff"):
        raw = raw[1:]  # a byte-order mark some clients put before UTF-8
    try:
        data = json.loads(raw, object_pairs_hook=_unique_keys(field))
    except RecursionError:
        raise BadInput(field, f"is nested too deeply (at most {MAX_DEPTH} levels)") from None
    except BadInput:
        raise
    except ValueError:  # also an integer of more than 4,300 digits
        raise BadInput(field, "is not valid JSON") from None
    check_document(data, field)
    return data


def json_size(value: object) -> int:
    """How big a JSON field is, wherever a size limit applies to one: the
    UTF-8 bytes of its compact text (as browsers and SDKs send it)."""
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


def check_document(data: object, field: str) -> None:
    """Walk a parsed document (without recursion): depth, and every key and
    string under the text rules. Errors name the path, e.g. ``optional.k``."""
    stack: list[tuple[object, str, int]] = [(data, "", 1)]
    while stack:
        value, path, depth = stack.pop()
        name = path or field
        if isinstance(value, str):
            check_text(value, name)
        elif isinstance(value, bool):
            pass
        elif isinstance(value, int):
            if abs(value) > MAX_INTEGER:
                raise BadInput(name, f"must be at most {MAX_INTEGER}")
        elif isinstance(value, float):
            if not math.isfinite(value):  # NaN, Infinity, or 1e999
                raise BadInput(name, "must be a finite number")
        elif isinstance(value, (dict, list)):
            if depth > MAX_DEPTH:
                raise BadInput(name, f"is nested too deeply (at most {MAX_DEPTH} levels)")
            if isinstance(value, dict):
                for key, item in value.items():
                    child = f"{path}.{key}" if path else key
                    check_text(key, child)
                    stack.append((item, child, depth + 1))
            else:
                stack.extend((item, f"{name}[{index}]", depth + 1)
                             for index, item in enumerate(value))
