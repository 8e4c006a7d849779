"""Safe YAML reading: plain data only, duplicate keys refused, line numbers kept for errors.

Dates stay strings here (pydantic parses them, so an impossible date such as 2025-02-30 is
reported with its field), and `!!python/...` tags are refused by PyYAML's safe constructor.
Files are read through `timeline.io.guard` (regular files only, size-capped), and text holding
control characters or direction overrides (`timeline.io.text`) is refused with its line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from timeline.errors import TimelineError, dotted, explain
from timeline.io.guard import read_bytes, setting
from timeline.io.text import describe, unsafe_char

MAX_BYTES = 5 * 1024 * 1024  # default cap of a scenario file; TIMELINE_MAX_INPUT_BYTES overrides
MAX_INPUT_ENV = "TIMELINE_MAX_INPUT_BYTES"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"


class _Loader(yaml.SafeLoader):
    """SafeLoader without implicit timestamps and with duplicate keys refused."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != _TIMESTAMP]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class DuplicateKey(yaml.MarkedYAMLError):
    pass


class BadKey(yaml.MarkedYAMLError):
    pass


def _mapping(loader: _Loader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: set[object] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        if isinstance(key, dict | list | set | bytes):
            raise BadKey(
                problem="a key must be a plain name, not a list, a mapping or binary data",
                problem_mark=key_node.start_mark,
            )
        if key in seen:
            raise DuplicateKey(
                problem=f"duplicate key {key!r} (YAML would silently keep the last one)",
                problem_mark=key_node.start_mark,
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


class YamlDoc:
    """A parsed YAML file: its data and its node tree, to point errors at lines."""

    def __init__(self, path: Path, data: Any, root: yaml.Node | None) -> None:
        self.path = path
        self.data = data
        self.root = root

    def line_of(self, loc: tuple[object, ...]) -> int | None:
        """The 1-based line of the value at `loc` (a pydantic location), as far as it exists."""
        node, line = self.root, None
        for part in loc:
            if isinstance(node, yaml.MappingNode):
                match = [v for k, v in node.value if k.value == str(part)]
                if not match:
                    break
                node = match[0]
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
                if part >= len(node.value):
                    break
                node = node.value[part]
            else:
                break
            line = node.start_mark.line + 1
        return line

    def error(self, loc: tuple[object, ...], problem: str, fix: str) -> TimelineError:
        line = self.line_of(loc)
        where = dotted(loc)
        if line is not None:
            where = f"line {line}, {where}" if where else f"line {line}"
        return TimelineError(self.path, where, problem, fix)

    def validate(self, model: type[BaseModel], data: Any = None, prefix: tuple = ()) -> Any:
        """Validate `data` (default: the whole file) against `model`, or raise one error."""
        try:
            return model.model_validate(self.data if data is None else data)
        except ValidationError as err:
            loc, problem, fix = explain(err.errors()[0])
            raise self.error(prefix + loc, problem, fix) from None


def read_text(path: Path, max_bytes: int | None = None, bom: bool = False) -> str:
    """Read a UTF-8 text file, refusing huge, binary or non-UTF-8 files, and a byte-order mark
    unless `bom`. `max_bytes` defaults to `MAX_BYTES` or $TIMELINE_MAX_INPUT_BYTES."""
    limit = max_bytes if max_bytes is not None else setting(MAX_INPUT_ENV, MAX_BYTES)
    return decode_text(path, read_bytes(path, limit), bom)


def decode_text(path: Path, raw: bytes, bom: bool = False) -> str:
    """The text of a file's bytes: UTF-8, no NUL, not empty; a BOM is dropped if `bom`."""
    if raw.startswith(b"\xef\xbb\xbf"):
        if not bom:
            raise TimelineError(
                path,
                "line 1",
                "file starts with a byte-order mark (BOM)",
                "save it as UTF-8 without BOM",
            )
        raw = raw[3:]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise TimelineError(
            path,
            f"line {line}",
            "file is not UTF-8 (Latin-1 or Windows encoding?)",
            "save it as UTF-8",
        ) from None
    if "\x00" in text:
        raise TimelineError(path, "", "file holds binary data", "name a text file")
    if not text.strip():
        raise TimelineError(path, "", "file is empty", "fill it in or name the right file")
    return text


def _check_characters(doc: YamlDoc) -> None:
    """Refuse keys or text holding control characters or direction overrides (YAML escapes
    such as "\\e" make them from plain ASCII). Shared (aliased) parts are visited once."""
    seen: set[int] = set()

    def check(text: str, loc: tuple[object, ...]) -> None:
        bad = unsafe_char(text)
        if bad is not None:
            raise doc.error(
                loc,
                f"text holds the control character {describe(bad)}",
                "remove it: terminal escapes and direction overrides are not allowed",
            )

    def walk(value: Any, loc: tuple[object, ...]) -> None:
        if isinstance(value, str):
            check(value, loc)
        elif isinstance(value, bytes):
            raise doc.error(loc, "binary data (!!binary) is not allowed", "write plain text")
        elif isinstance(value, dict | list | set) and id(value) not in seen:
            seen.add(id(value))
            if isinstance(value, set):
                value = sorted(value, key=repr)
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                if isinstance(key, str):
                    check(key, (*loc, key))
                walk(item, (*loc, key))

    walk(doc.data, ())


def read_yaml(path: Path) -> YamlDoc:
    """Parse one YAML file into plain data, or raise a one-line `TimelineError`."""
    text = read_text(path)
    loader: _Loader | None = None
    try:
        loader = _Loader(text)  # its reader refuses raw control characters at once
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = " ".join(str(err.problem or err.context or "not valid YAML").split())
        if "could not determine a constructor" in problem:
            fix = "remove the tag: scenario files hold plain data only"
        elif isinstance(err, DuplicateKey):
            fix = "keep one of the two keys"
        elif isinstance(err, BadKey):
            fix = "write the key as a plain name, e.g. title:"
        else:
            fix = "check indentation, colons and quotes on that line"
        raise TimelineError(path, where, problem, fix) from None
    except RecursionError:
        raise TimelineError(
            path, "", "nesting is too deep to read", "flatten the file: plain lists and mappings"
        ) from None
    except yaml.reader.ReaderError as err:
        line = text[: err.position].count("\n") + 1
        char = chr(err.character) if isinstance(err.character, int) else str(err.character)
        raise TimelineError(
            path,
            f"line {line}",
            f"text holds the control character {describe(char)}",
            "remove it: terminal escapes and direction overrides are not allowed",
        ) from None
    except yaml.YAMLError as err:
        raise TimelineError(path, "", f"not valid YAML ({err})", "check the syntax") from None
    finally:
        if loader is not None:
            loader.dispose()
    if not isinstance(data, dict):
        raise TimelineError(path, "line 1", "expected a mapping of key: value lines", "see README")
    doc = YamlDoc(path, data, root)
    _check_characters(doc)
    return doc
