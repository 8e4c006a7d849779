"""Safe YAML reading: plain data only, duplicate keys refused, line numbers kept for errors.

Dates stay strings here (pydantic parses them, so an impossible date such as 2025-02-30 is
reported with its field), and `!!python/...` tags are refused by PyYAML's safe constructor.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from timeline.errors import TimelineError, dotted, explain

MAX_BYTES = 5 * 1024 * 1024
_TIMESTAMP = "tag:yaml.org,2002:timestamp"


class _Loader(yaml.SafeLoader):
    """SafeLoader without implicit timestamps and with duplicate keys refused."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != _TIMESTAMP]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class DuplicateKey(yaml.MarkedYAMLError):
    pass


def _mapping(loader: _Loader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: set[object] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
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


def read_text(path: Path, max_bytes: int = MAX_BYTES) -> str:
    """Read a UTF-8 text file, refusing huge, binary, BOM-prefixed or non-UTF-8 files."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise TimelineError(
                path,
                "",
                f"file is {size / 1e6:.1f} MB, over the {max_bytes / 1e6:.0f} MB limit",
                "split the file or remove unused rows",
            )
        raw = path.read_bytes()
    except FileNotFoundError:
        raise TimelineError(path, "", "file not found", "check the path") from None
    except IsADirectoryError:
        raise TimelineError(path, "", "is a folder, not a file", "name a file") from None
    except PermissionError:
        raise TimelineError(path, "", "file cannot be read", "check its permissions") from None
    if raw.startswith(b"\xef\xbb\xbf"):
        raise TimelineError(
            path,
            "line 1",
            "file starts with a byte-order mark (BOM)",
            "save it as UTF-8 without BOM",
        )
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


def read_yaml(path: Path) -> YamlDoc:
    """Parse one YAML file into plain data, or raise a one-line `TimelineError`."""
    text = read_text(path)
    loader = _Loader(text)
    try:
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
        else:
            fix = "check indentation, colons and quotes on that line"
        raise TimelineError(path, where, problem, fix) from None
    except RecursionError:
        raise TimelineError(
            path, "", "nesting is too deep to read", "flatten the file: plain lists and mappings"
        ) from None
    except yaml.YAMLError as err:
        raise TimelineError(path, "", f"not valid YAML ({err})", "check the syntax") from None
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        raise TimelineError(path, "line 1", "expected a mapping of key: value lines", "see README")
    return YamlDoc(path, data, root)
