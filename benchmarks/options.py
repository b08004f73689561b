"""Command-line options generated from dataclass fields, so that each option is spelled once.

A field becomes `--field-name`; its type gives the argparse type (bool: --x / --no-x, Literal:
choices, tuples: comma-separated), the comment on its line its help text, and its default is shown
once in the help. An option left out is None, which the configs read as "keep the default".
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import io
import re
import tokenize
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import MISSING, fields
from functools import cache
from typing import Any, Literal


@cache
def field_docs(cls: type) -> dict[str, str]:
    """{field: the comment on the line that declares it} over the class and its bases."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        try:
            source = inspect.getsource(klass)
        except (OSError, TypeError):
            continue
        comments = {tok.start[0]: tok.string.lstrip("# ").strip()
                    for tok in tokenize.generate_tokens(io.StringIO(source).readline)
                    if tok.type == tokenize.COMMENT}
        for number, line in enumerate(source.splitlines(), 1):
            match = re.match(r"\s{4}(\w+)\s*:\s*(?!ClassVar)", line)
            if match and number in comments:
                docs[match.group(1)] = comments[number]
    return docs


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _base_type(hint: Any) -> Any:
    """The hint without `| None`."""
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if typing.get_origin(hint) in (typing.Union, getattr(__import__("types"), "UnionType", None)) and len(args) == 1:
        return args[0]
    return hint


def _converter(hint: Any, name: str) -> tuple[Callable[[str], Any] | None, tuple | None]:
    """(argparse type, choices) for a field type; (None, None) for bool."""
    hint = _base_type(hint)
    if hint is bool:
        return None, None
    if typing.get_origin(hint) is Literal:
        return None, tuple(typing.get_args(hint))
    if typing.get_origin(hint) is tuple:
        item = typing.get_args(hint)[0]

        def parse(text: str) -> tuple:
            try:
                return tuple(item(part) for part in text.split(",") if part.strip())
            except ValueError:
                raise argparse.ArgumentTypeError(
                    f"expected comma-separated {item.__name__} values, got {text!r}") from None
        return parse, None
    if hint in (int, float, str):
        def convert(text: str, kind=hint) -> Any:
            try:
                return kind(text)
            except ValueError:
                raise argparse.ArgumentTypeError(f"expected {kind.__name__}, got {text!r}") from None
        convert.__name__ = hint.__name__
        return convert, None
    raise TypeError(f"no command-line form for field {name} of type {hint}")


def show(value: Any) -> str:
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, tuple):
        return ",".join(map(str, value))
    return str(value)


def add_fields(group: argparse._ActionsContainer, cls: type, exclude: Iterable[str] = (),
               defaults: Mapping[str, str] | None = None, choices: Mapping[str, Sequence[str]] | None = None) -> list[str]:
    """Add one option per field of dataclass `cls` (bar `exclude`); help = the field's comment and its
    default (or defaults[name], text saying where the default comes from). Returns the field names."""
    hints = typing.get_type_hints(cls)
    docs = field_docs(cls)
    names = []
    for f in fields(cls):
        if f.name in exclude:
            continue
        names.append(f.name)
        convert, options = _converter(hints[f.name], f.name)
        if choices and f.name in choices:
            options = tuple(choices[f.name])
        default = defaults.get(f.name) if defaults else None
        if default is None:
            default = show(f.default if f.default is not MISSING else f.default_factory())
        help_text = f"{docs.get(f.name, f.name.replace('_', ' '))} (default: {default})"
        metavar = None if options else f.name.upper().replace("_", "-").split("-")[-1]
        if convert is None and options is None:
            group.add_argument(flag(f.name), action=argparse.BooleanOptionalAction, default=None,
                               help=help_text.replace("%", "%%"))
        else:
            group.add_argument(flag(f.name), type=convert, choices=options, default=None, metavar=metavar,
                               help=help_text.replace("%", "%%"))
    return names


def add_method_fields(group: argparse._ActionsContainer, classes: Mapping[str, type],
                      everyone: Iterable[str] = (), exclude: Iterable[str] = (), prefix: str = "") -> list[str]:
    """One option per field of any of the method classes (variants, samplers; bar `exclude`), its help naming
    the methods that have it (or "every variant" when all of `everyone` have it) and their defaults. The flag
    is `--PREFIX-FIELD` with a prefix (the regularizers' `--reg-...`); the names returned are the fields'."""
    everyone, exclude = set(everyone), set(exclude)
    owners: dict[str, list[str]] = {}
    for method, cls in classes.items():
        for f in fields(cls):
            if f.name not in exclude:
                owners.setdefault(f.name, []).append(method)
    names = []
    for name, methods in owners.items():
        cls = classes[methods[0]]
        convert, options = _converter(typing.get_type_hints(cls)[name], name)
        values = {m: show(next(f for f in fields(classes[m]) if f.name == name).default) for m in methods}
        if len(set(values.values())) == 1:
            default = next(iter(values.values()))
        else:
            default = ", ".join(f"{m} {v}" for m, v in values.items())
        scope = "every variant" if everyone and everyone <= set(methods) else ", ".join(methods)
        docs = {m: field_docs(classes[m]).get(name, name) for m in methods}
        doc = next(iter(docs.values())) if len(set(docs.values())) == 1 else \
            "; ".join(f"{m}: {d}" for m, d in docs.items())
        help_text = f"{doc} [{scope}] (default: {default})"
        metavar = None if options else name.upper().replace("_", "-").split("-")[-1]
        if convert is None and options is None:
            group.add_argument(flag(prefix + name), action=argparse.BooleanOptionalAction, default=None,
                               help=help_text.replace("%", "%%"))
        else:
            group.add_argument(flag(prefix + name), type=convert, choices=options, default=None, metavar=metavar,
                               help=help_text.replace("%", "%%"))
        names.append(name)
    return names


REG_PREFIX = "reg_"  # a regularizer option's flag: --reg-OPTION
REGULARIZER_FIELDS = ("regularizers", "regularizer_options")  # the Variant fields the regularizer flags set


def add_regularizer_fields(group: argparse._ActionsContainer, classes: Mapping[str, type]) -> list[str]:
    """`--regularizer NAME` (repeatable) and one `--reg-OPTION` per option of any regularizer; returns the
    option names."""
    group.add_argument("--regularizer", action="append", choices=list(classes), metavar="NAME",
                       help="add a regularizer to the variant's search (repeatable; a variant's own stay): " +
                       "; ".join(f"{n}: {c.summary}" for n, c in classes.items()).replace("%", "%%"))
    return add_method_fields(group, classes, prefix=REG_PREFIX)


def regularizer_options(args: argparse.Namespace, names: Iterable[str], cls: type) -> dict[str, Any]:
    """The variant fields `regularizers` (the variant's own, then the added ones) and `regularizer_options`
    from --regularizer and --reg-OPTION; {} when neither is given."""
    added = tuple(getattr(args, "regularizer", None) or ())
    given = {n: getattr(args, REG_PREFIX + n) for n in names if getattr(args, REG_PREFIX + n, None) is not None}
    if not added and not given:
        return {}
    if "regularizers" not in {f.name for f in fields(cls)}:
        raise ValueError(f"{cls.name} samples genotypes: --regularizer and --reg-* apply to searching variants")
    default = cls()
    return {"regularizers": default.regularizers + tuple(n for n in added if n not in default.regularizers),
            "regularizer_options": {**dict(default.regularizer_options), **given}}


def collect(args: argparse.Namespace, names: Iterable[str]) -> dict[str, Any]:
    """{field: value} of the options given on the command line."""
    return {name: getattr(args, name) for name in names if getattr(args, name, None) is not None}


def method_options(args: argparse.Namespace, names: Iterable[str], cls: type) -> dict[str, Any]:
    """The given method options, checked against the chosen method's fields."""
    given = collect(args, names)
    own = {f.name for f in fields(cls)}
    foreign = sorted(set(given) - own)
    if foreign:
        raise ValueError(f"{', '.join(flag(n) for n in foreign)} does not apply to {cls.name}; its options: "
                         f"{', '.join(flag(n) for n in sorted(own)) or 'none'}")
    return given


@contextlib.contextmanager
def as_flags(names: Iterable[str]):
    """Re-raise a config's ValueError that starts with a field name ("epochs must be >= 1") with the
    option's flag instead ("--epochs must be >= 1"), so the one-line error names what to change."""
    try:
        yield
    except ValueError as err:
        message = str(err)
        for name in sorted(names, key=len, reverse=True):
            if message.startswith(name + " "):
                raise ValueError(flag(name) + message[len(name):]) from None
        raise
