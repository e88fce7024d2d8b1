"""Typed, lazy name registries and the `xraybench.plugins` entry-point group.

A registry maps a name to a target, given as "module:attribute" (imported only when used) or as the object
itself. Resolving a target checks it against the registry's contract (a base class, a protocol or a check
function), so a plugin that registers the wrong thing fails with one clear message naming it, not with an
AttributeError deep inside a run. Unknown names get "did you mean".

Plugins: an installed distribution adds datasets, tasks, metrics, model adapters or judges through entry
points in the group `xraybench.plugins` (in its `pyproject.toml`: `[project.entry-points."xraybench.plugins"]`):

    dataset.toy_cxr = "toy_plugin.data:DATASET"    # KIND.NAME = target: registered lazily under NAME
    metric.toy_len = "toy_plugin.metrics:LengthMetric"
    model.toy = "toy_plugin.model:make_model"
    judge.toy = "toy_plugin.judge:ToyJudge"
    toy_plugin = "toy_plugin.register:register"    # no KIND: a function (or module) run once to register

KIND is the `plugin_kind` of a registry (`PLUGIN_KINDS`). Entry points are read once, on the first lookup
of any registry (never at `import xraybench`); a registry created later (the arena's judges) receives the
entries of its kind when it is created.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from xraybench.errors import MissingExtraError, XrayBenchError

log = logging.getLogger(__name__)

T = TypeVar("T")

ENTRY_POINT_GROUP = "xraybench.plugins"
# what a plugin may add (the `plugin_kind` of each registry); the judge registry lives in arena/
PLUGIN_KINDS = ("dataset", "task", "metric", "model", "judge")
BUILTIN = "xraybench"  # the origin of entries registered by this package


@dataclass(frozen=True)
class Entry:
    name: str
    target: Any  # "package.module:attribute", or the object itself
    extra: str | None = None  # the pip extra that provides the heavy imports, if any
    help: str = ""
    origin: str = BUILTIN  # who registered it: this package, or the plugin's entry point


class UnknownNameError(XrayBenchError, KeyError):
    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class PluginError(XrayBenchError):
    """A registered target that cannot be loaded or breaks its registry's contract; names who registered it."""


Check = Callable[[str, Any], str | None]  # (name, resolved target) -> what is wrong with it, or None


def subclass_of(base: type) -> Check:
    """A contract: the target is `base` or a subclass of it."""

    def check(name: str, value: Any) -> str | None:
        ok = inspect.isclass(value) and issubclass(value, base)
        return None if ok else f"expected a subclass of {base.__module__}.{base.__qualname__}, got {value!r}"

    return check


def instance_of(cls: type) -> Check:
    """A contract: the target is an instance of `cls` (a `Dataset`, a `Task`) whose `name`, if any, is its name."""

    def check(name: str, value: Any) -> str | None:
        name_of = getattr(value, "name", name)
        if isinstance(value, cls) and name_of != name:
            return f"it is registered as {name!r} but calls itself {name_of!r}"
        return None if isinstance(value, cls) else f"expected a {cls.__qualname__} instance, got {value!r}"

    return check


def has_members(*members: str, cls: bool = False) -> Check:
    """A protocol contract: the target (a class when `cls`, else any callable) provides `members`."""

    def check(name: str, value: Any) -> str | None:
        if cls and not inspect.isclass(value):
            return f"expected a class, got {value!r}"
        if not cls and not callable(value):
            return f"expected a callable, got {value!r}"
        missing = [m for m in members if not hasattr(value, m)]
        return f"{value!r} lacks {', '.join(missing)}" if missing else None

    return check


class Registry(Generic[T]):
    """Maps names to targets without importing them until `get` is called; checks them when resolved.

    `kind` names the registry in messages ("model adapter"); `plugin_kind` is its KIND in entry-point names
    ("model"); `check` is the contract a resolved target must meet; `populate` (optional) registers derived
    entries the first time the registry is used (the task registry reads the datasets' tasks).
    """

    def __init__(
        self,
        kind: str,
        *,
        plugin_kind: str | None = None,
        check: Check | None = None,
        populate: Callable[[Registry[T]], None] | None = None,
        populate_key: Callable[[], object] | None = None,
    ):
        self.kind = kind
        self.plugin_kind = plugin_kind
        self._check = check
        self._populate = populate
        self._populate_key = populate_key  # populate again when this changes (the datasets were changed)
        self._populated = populate is None
        self._populated_key: object = None
        self.generation = 0  # bumped by every change, so a derived registry knows when to populate again
        self._entries: dict[str, Entry] = {}
        self._resolved: dict[str, T] = {}
        self._lock = threading.RLock()
        if plugin_kind is not None:
            if plugin_kind not in PLUGIN_KINDS:
                raise ValueError(f"plugin kind {plugin_kind!r} is not one of {', '.join(PLUGIN_KINDS)}")
            _REGISTRIES.setdefault(plugin_kind, []).append(self)

    # --- registering -------------------------------------------------------------------------------------

    def register(
        self, name: str, target: Any, *, extra: str | None = None, help: str = "", origin: str | None = None
    ) -> None:
        """Add `name`. `target` is "module:attribute" (lazy) or the object itself; a name registered twice
        is an error (a plugin cannot silently replace a built-in)."""
        if isinstance(target, str) and ":" not in target:
            raise ValueError(f"{self.kind} {name!r}: target {target!r} must look like 'package.module:attribute'")
        if origin is None:  # a plugin's registration code: its entry point (not a registry its import created)
            origin = _current_origin if _current_origin and id(self) in _existing else BUILTIN
        with self._lock:
            old = self._entries.get(name)
            if old is not None:
                by = "" if old.origin == origin else f" (by {old.origin} and by {origin})"
                raise PluginError(f"{self.kind} {name!r} is registered twice{by}")
            self._entries[name] = Entry(name, target, extra, help, origin)
            self.generation += 1

    def unregister(self, name: str) -> None:
        with self._lock:
            self._entries.pop(name, None)
            self._resolved.pop(name, None)
            self.generation += 1

    # --- looking up --------------------------------------------------------------------------------------

    def _ready(self) -> None:
        load_plugins()
        if self.plugin_kind in _PENDING:
            _adopt_pending(self)
        if self._populate is None:
            return
        key = self._populate_key() if self._populate_key is not None else None
        if not self._populated or key != self._populated_key:
            with self._lock:
                self._populated, self._populated_key = True, key  # first: a lookup inside must not recurse
                self._populate(self)

    def names(self) -> list[str]:
        self._ready()
        return sorted(self._entries)

    def in_order(self) -> list[str]:
        """Names in registration order, built-ins (as their registration lines list them) before plugins'."""
        self._ready()
        return sorted(self._entries, key=lambda n: self._entries[n].origin != BUILTIN)  # a stable sort

    def entries(self) -> list[Entry]:
        return [self._entries[n] for n in self.names()]

    def __contains__(self, name: object) -> bool:
        self._ready()
        return name in self._entries

    def entry(self, name: str) -> Entry:
        self._ready()
        try:
            return self._entries[name]
        except KeyError:
            close = difflib.get_close_matches(name, self._entries, n=3, cutoff=0.5)
            hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            raise UnknownNameError(f"unknown {self.kind} {name!r}.{hint} Known: {', '.join(self.names())}") from None

    def get(self, name: str) -> T:
        """The target of `name`, imported on first use and checked against the registry's contract."""
        entry = self.entry(name)
        if name in self._resolved:
            return self._resolved[name]
        value = _import_target(entry, self.kind) if isinstance(entry.target, str) else entry.target
        problem = self._check(name, value) if self._check is not None else None
        if problem:
            where = f" (registered by {entry.origin})" if entry.origin != BUILTIN else ""
            raise PluginError(f"{self.kind} {name!r}{where} breaks the {self.kind} contract: {problem}")
        with self._lock:
            self._resolved[name] = value
        return value

    @contextmanager
    def scoped(self) -> Iterator[Registry[T]]:
        """Registrations made inside the block are removed after it (tests register throw-away targets)."""
        self._ready()
        with self._lock:
            entries, resolved = dict(self._entries), dict(self._resolved)
        try:
            yield self
        finally:
            with self._lock:
                self._entries, self._resolved = entries, resolved
                self.generation += 1


def _import_target(entry: Entry, kind: str) -> Any:
    module_name, _, attribute = entry.target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        if entry.extra and not module_name.startswith(exc.name or "\0"):
            raise MissingExtraError(f"{kind} {entry.name!r}", entry.extra, exc) from exc
        if entry.origin != BUILTIN:
            raise PluginError(
                f"{kind} {entry.name!r} (registered by {entry.origin}) cannot be imported: {exc}"
            ) from exc
        raise
    try:
        value: Any = module
        for part in attribute.split("."):
            value = getattr(value, part)
    except AttributeError:
        raise PluginError(
            f"{kind} {entry.name!r} (registered by {entry.origin}): module {module_name} has no {attribute!r}"
        ) from None
    return value


# --- plugins -------------------------------------------------------------------------------------------------

_REGISTRIES: dict[str, list[Registry[Any]]] = {}  # plugin kind -> the registries of that kind created so far
_PENDING: dict[str, list[tuple[str, str, str]]] = {}  # plugin kind -> (name, target, origin) for later registries
_plugins_lock = threading.RLock()
_plugins_loaded = False
_plugins_loading = False
_current_origin: str | None = None  # set while a plugin's registration function runs
_existing: set[int] = set()  # the registries that existed when it started


def _register_plugin(kind: str, name: str, target: str, origin: str) -> None:
    registries = _REGISTRIES.get(kind)
    if not registries:  # e.g. a judge while arena/ is not imported: registered when its registry is created
        _PENDING.setdefault(kind, []).append((name, target, origin))
        return
    for registry in registries:
        registry.register(name, target, origin=origin)


def _plugin_entry_points() -> list[Any]:
    from importlib.metadata import entry_points

    return sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name)


def load_plugins() -> None:
    """Read the `xraybench.plugins` entry points once (the first lookup of any registry calls this)."""
    global _plugins_loaded, _plugins_loading
    if _plugins_loaded:
        return
    with _plugins_lock:  # another thread waits here until every plugin is registered
        if _plugins_loaded or _plugins_loading:  # loading: a lookup made by the loading itself (same thread)
            return
        _plugins_loading = True
        try:
            _read_entry_points()
        finally:
            _plugins_loading, _plugins_loaded = False, True


def _read_entry_points() -> None:
    """Register every entry point of the group (built-in registries imported first)."""
    global _current_origin
    for module in ("xraybench.datasets", "xraybench.tasks", "xraybench.metrics", "xraybench.models"):
        importlib.import_module(module)  # our own registrations first, so none is counted as a plugin's
    _existing.clear()
    _existing.update(id(r) for registries in _REGISTRIES.values() for r in registries)
    for ep in _plugin_entry_points():
        dist = getattr(getattr(ep, "dist", None), "name", None) or "an installed package"
        origin = f"plugin {ep.name} = {ep.value} of {dist}"
        kind, dot, name = ep.name.partition(".")
        if dot:
            if kind not in PLUGIN_KINDS or not name:
                raise PluginError(
                    f"{origin}: entry point names in {ENTRY_POINT_GROUP} are KIND.NAME with KIND one of "
                    f"{', '.join(PLUGIN_KINDS)} (or a bare name for a registration function), got {ep.name!r}"
                )
            _register_plugin(kind, name, ep.value, origin)
            continue
        _current_origin = origin  # a module's import-time registration lines count as the plugin's too
        try:
            loaded = ep.load()
        except Exception as exc:
            raise PluginError(f"{origin} cannot be loaded: {type(exc).__name__}: {exc}") from exc
        finally:
            _current_origin = None
        if callable(loaded):
            _current_origin = origin
            try:
                loaded()  # its registration lines run now, against the same registries as ours
            finally:
                _current_origin = None
        log.debug("loaded %s", origin)
    for kind in list(_PENDING):
        if _REGISTRIES.get(kind):
            for item in _PENDING.pop(kind):
                _register_plugin(kind, *item)


def _adopt_pending(registry: Registry[Any]) -> None:
    """Give a registry created after the plugins were read the entries waiting for its kind."""
    if registry.plugin_kind is None:
        return
    with _plugins_lock:
        for name, target, origin in _PENDING.pop(registry.plugin_kind, []):
            registry.register(name, target, origin=origin)


def reload_plugins() -> None:
    """Drop every plugin registration and read the entry points again (after installing a plugin at run time,
    and in tests that put a plugin on sys.path)."""
    global _plugins_loaded
    with _plugins_lock:
        for registries in _REGISTRIES.values():
            for registry in registries:
                for entry in list(registry._entries.values()):
                    if entry.origin.startswith("plugin "):
                        registry.unregister(entry.name)
                if registry._populate is not None:  # derived entries of a plugin's (removed) datasets
                    registry._populated = False
        _PENDING.clear()
        _plugins_loaded = False
    load_plugins()
