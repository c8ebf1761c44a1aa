"""absl flags generated from settings declarations (`srim_tf/settings.py`), and settings read back.

A declared field becomes a flag of its name, type, default and help: `bool` -> DEFINE_bool,
a string with choices -> DEFINE_enum, a tuple -> a comma-separated list parsed to its item
type, numbers -> DEFINE_integer / DEFINE_float. Each flag's validator is the declaration's
own check (`settings.problem`), so a bad value fails at parse time with the same line a
test or a benchmark would get from the settings object.
"""

import dataclasses
import typing

from absl import app, flags, logging

from srim_tf import settings as settings_lib


class _TypedListParser(flags.ListParser):
    """A comma-separated list whose items are parsed to `item_type` at the command line."""

    def __init__(self, item_type):
        super().__init__()
        self.item_type = item_type

    def parse(self, argument):
        items = super().parse(argument)
        try:
            return [self.item_type(item) for item in items]
        except ValueError:
            raise ValueError(f"must be a comma-separated list of {self.item_type.__name__}s") from None

    def flag_type(self):
        return f"comma-separated list of {self.item_type.__name__}"


def _define(field, module_name, flag_values, old_name=None):
    """Defines `field`'s flag; with `old_name`, a flag of that name, the same type and no
    default, that stands for it."""
    kind, meta = field.type, field.metadata
    if typing.get_origin(kind) is typing.Union:  # Optional[...]
        kind = typing.get_args(kind)[0]
    default = field.default if field.default is not dataclasses.MISSING else field.default_factory()
    name, help_text = field.name, meta["help"]
    if old_name:
        name, help_text, default = old_name, f"Deprecated: the old name of --{field.name}.", None
    if name in flag_values:  # A program run twice in one process (tests) defines its flags once.
        return
    common = dict(name=name, help=help_text, flag_values=flag_values, module_name=module_name)
    if typing.get_origin(kind) is tuple and meta["repeatable"]:
        flags.DEFINE_multi_string(default=list(default or ()) or None, **common)
    elif typing.get_origin(kind) is tuple:
        item_type = typing.get_args(kind)[0]
        flags.DEFINE(_TypedListParser(item_type), default=None if default is None else list(default),
                     serializer=flags.CsvListSerializer(","), **common)
    elif kind is bool:
        flags.DEFINE_bool(default=default, **common)
    elif kind is str and meta["choices"]:
        flags.DEFINE_enum(default=default, enum_values=list(meta["choices"]), **common)
    elif kind is str:
        flags.DEFINE_string(default=default, **common)
    elif kind is int:
        flags.DEFINE_integer(default=default, **common)
    elif kind is float:
        flags.DEFINE_float(default=default, **common)
    else:
        raise TypeError(f"No flag type for setting {field.name}: {kind}")

    def valid(value):
        if value is None and old_name:
            return True  # not given
        value = tuple(value) if isinstance(value, list) else () if value is None and meta["repeatable"] else value
        why = settings_lib.problem(field, value)
        if why:  # absl puts "flag --name=value: " before it
            raise flags.ValidationError("a value is required" if why == "is required" else why)
        return True

    flags.register_validator(name, valid, flag_values=flag_values)


def define_flags(settings_class, module_name, flag_values=flags.FLAGS):
    """Defines one flag per field of the dataclass `settings_class` as flags of
    `module_name` (whose --help lists them)."""
    for field in dataclasses.fields(settings_class):
        _define(field, module_name, flag_values)


def define_run_flags(module_name, flag_values=flags.FLAGS):
    """Defines one flag per `RunSettings` field, and the old names of renamed ones."""
    for group in settings_lib.GROUPS.values():
        define_flags(group, module_name, flag_values)
    for old, new in settings_lib.RENAMED.items():
        _define(_run_field(new), module_name, flag_values, old_name=old)


def define_renamed(settings_class, renamed, module_name, flag_values=flags.FLAGS):
    """Defines each old name of `renamed` (`{old: new}`) as a flag that stands for the new one."""
    fields = {field.name: field for field in dataclasses.fields(settings_class)}
    for old, new in renamed.items():
        _define(fields[new], module_name, flag_values, old_name=old)


def _run_field(name):
    return next(field for _, field in settings_lib.declared_fields() if field.name == name)


def flag_values_of(settings_class, renamed=None, flag_values=flags.FLAGS):
    """`{field name: parsed flag value}` of the dataclass `settings_class`'s fields; an old
    name of `renamed` given on the command line stands for its new one, with a notice."""
    values = {field.name: flag_values[field.name].value for field in dataclasses.fields(settings_class)}
    for old, new in (renamed or {}).items():
        if flag_values[old].present:
            if flag_values[new].present:
                raise app.UsageError(f"--{old} is the old name of --{new}: give one of them. Received:"
                                     f" --{old}={flag_values[old].value} --{new}={flag_values[new].value}")
            logging.warning("--%s is deprecated: use --%s (the same setting).", old, new)
            values[new] = flag_values[old].value
    return {name: () if value is None and _repeatable(settings_class, name) else value
            for name, value in values.items()}


def _repeatable(settings_class, name):
    return next(f for f in dataclasses.fields(settings_class) if f.name == name).metadata["repeatable"]


def run_settings(flag_values=flags.FLAGS):
    """The `RunSettings` of parsed flags; a `ValueError` names flags that do not work together."""
    values = {}
    for group in settings_lib.GROUPS.values():
        values.update(flag_values_of(group, flag_values=flag_values))
    for old, new in settings_lib.RENAMED.items():
        if flag_values[old].present:  # from_flat gives the notice, or refuses both names
            values[old] = flag_values[old].value
            if not flag_values[new].present:
                del values[new]
    return settings_lib.RunSettings.from_flat(values)
