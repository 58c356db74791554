"""Read YAML files into pydantic models with errors that name the file, line and YAML path.

Every validation error becomes one :class:`~studykit.errors.ProtocolError` listing each
problem as ``<path> (line N): <what was expected, what was found>`` — ``arms[2].model``,
``optimizer.lr`` — with "did you mean …" for misspelt keys, so a user can fix a protocol
without reading a traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from studykit.errors import ProtocolError
from studykit.vocab import did_you_mean, read_utf8

__all__ = ["load_model", "read_yaml", "validate_model", "yaml_path"]

Model = TypeVar("Model", bound=BaseModel)
_MAX_LISTED = 8


def read_yaml(path: str | Path) -> tuple[Any, yaml.Node | None]:
    """Parse ``path``: the data and the node tree (for line numbers).

    Raises :class:`ProtocolError` for a missing or unreadable file, text that is not UTF-8
    (with the byte offset and how to convert it), a YAML syntax error (with its line) and a
    key given twice in one mapping (naming both lines: YAML itself would silently keep the
    last one).
    """
    path = Path(path)
    if not path.is_file():
        raise ProtocolError("file not found.", file=str(path), hint="check the path (relative paths are "
                                                                    "resolved from the current folder).")
    text = read_utf8(path, ProtocolError, example="in.yaml")
    try:
        node = yaml.compose(text)
        _check_unique_keys(node, path)
        return yaml.safe_load(text), node
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        row = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise ProtocolError(f"is not valid YAML: {problem}.", file=str(path), row=row,
                            hint="check indentation and that every 'key: value' has a space after ':'.") \
            from exc


def _check_unique_keys(node: yaml.Node | None, path: Path) -> None:
    """A :class:`ProtocolError` for the first mapping key given twice, with both lines."""
    stack = [node] if node is not None else []
    while stack:
        current = stack.pop()
        if isinstance(current, yaml.MappingNode):
            seen: dict[str, int] = {}
            for key, value in current.value:
                line = key.start_mark.line + 1
                if isinstance(key, yaml.ScalarNode) and key.value in seen:
                    raise ProtocolError(f"key {key.value!r} is given twice (lines {seen[key.value]} and "
                                        f"{line}).", file=str(path), row=line,
                                        hint="keep one of them: YAML would silently use the last.")
                if isinstance(key, yaml.ScalarNode):
                    seen[key.value] = line
                stack.append(value)
        elif isinstance(current, yaml.SequenceNode):
            stack.extend(current.value)


def yaml_path(location: tuple[Any, ...]) -> str:
    """pydantic's error location → ``arms[2].model`` (YAML path as users write it)."""
    text = ""
    for part in location:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def _line_of(node: yaml.Node | None, location: tuple[Any, ...]) -> int | None:
    """1-based line of the YAML node at ``location`` (the deepest one that exists)."""
    line = None if node is None else node.start_mark.line + 1
    for part in location:
        if isinstance(node, yaml.MappingNode):
            match = next((v for k, v in node.value if k.value == str(part)), None)
            key = next((k for k, _ in node.value if k.value == str(part)), None)
            if match is None:
                return line
            node, line = match, (key.start_mark.line + 1 if key is not None else line)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def _describe(error: dict[str, Any], model: type[BaseModel]) -> str:
    """One error in words: expected vs got, with a close match for unknown keys."""
    if error["type"] == "extra_forbidden":
        allowed = _allowed_keys(model, error["loc"][:-1])
        suggestion = did_you_mean(error["loc"][-1], allowed, f"allowed keys: {', '.join(allowed)}")
        return f"unknown key; {suggestion}"
    got = error.get("input")
    shown = "" if isinstance(got, (dict, list)) else f"; got {got!r}"
    return f"{error['msg']}{shown}"


def _allowed_keys(model: type[BaseModel], location: tuple[Any, ...]) -> list[str]:
    """Field names of the sub-model at ``location`` (best effort through nested models)."""
    current: Any = model
    for part in location:
        if isinstance(part, int):
            continue
        field = getattr(current, "model_fields", {}).get(part)
        if field is None:
            return []
        annotation = field.annotation
        for candidate in (annotation, *getattr(annotation, "__args__", ())):
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                current = candidate
                break
            for inner in getattr(candidate, "__args__", ()):
                if isinstance(inner, type) and issubclass(inner, BaseModel):
                    current = inner
    return sorted(getattr(current, "model_fields", {}))


def validate_model(model: type[Model], data: Any, *, file: str | Path | None = None,
                   node: yaml.Node | None = None, prefix: tuple[Any, ...] = ()) -> Model:
    """``model.model_validate(data)``, with every error turned into one :class:`ProtocolError`."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        lines = []
        for error in errors[:_MAX_LISTED]:
            location = prefix + tuple(error["loc"])
            line = _line_of(node, location)
            where = yaml_path(location) + (f" (line {line})" if line else "")
            lines.append(f"  {where}: {_describe(error, model)}")
        more = f"\n  … and {len(errors) - _MAX_LISTED} more" if len(errors) > _MAX_LISTED else ""
        noun = "problem" if len(errors) == 1 else "problems"
        raise ProtocolError(f"{len(errors)} {noun} in {model.__name__}:\n" + "\n".join(lines) + more,
                            file=None if file is None else str(file),
                            hint="fix the listed keys; README's protocol reference lists every option.") \
            from None


def load_model(model: type[Model], path: str | Path) -> Model:
    """Read the YAML file at ``path`` and validate it as ``model``."""
    data, node = read_yaml(path)
    if data is None:
        raise ProtocolError("is empty.", file=str(path), hint=f"write a {model.__name__} in it.")
    return validate_model(model, data, file=path, node=node)
