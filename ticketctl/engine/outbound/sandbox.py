"""Jinja2's sandbox with bounds: a template staff wrote (a canned response, an override in
`templates_dir`) cannot reach Python internals, nor eat the machine's memory or time.

Each render has a budget (`bounded()` sets it around the render):
- `range()` gives at most MAX_RANGE numbers;
- no value (a string, a list) over MAX_VALUE characters or items, nor a number over MAX_INT_BITS: the
  operations that multiply their input (`*`, `**`, `%`, the str methods that pad, repeat or replace,
  and the filters that do: center, indent, wordwrap, join, replace, format, batch, slice, urlize, sum,
  tojson) are refused before they build one; every other value is checked once built;
- at most MAX_BUILT characters or items built in all (what a render can hold at once is less);
- at most MAX_OUTPUT characters written, counting what macros, `call` and `set` blocks write;
- at most MAX_STEPS steps (a turn of a loop, a call, a filter, an operator), and MAX_CPU_SECONDS of
  this thread's CPU time.
Beyond, `TemplateTooBig` says which bound was hit; templating.py turns it into one sentence.

How: the sandbox's hooks (`call`, `call_binop` for the operators it intercepts, `wrap_str_format`),
every filter wrapped, and the parsed template rewritten before it compiles (`compile`): each `for`
loop's iterable, each `~` and each piece of output pass through a counting filter. The wrappers take
the context, so Jinja never evaluates a filter while compiling, outside any budget. `lipsum` is gone:
it writes as much text as it is asked for.
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from string import Formatter
from typing import Any

from jinja2 import nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment, SandboxedFormatter
from jinja2.utils import pass_context
from jinja2.visitor import NodeTransformer

MAX_RANGE = 10_000
MAX_VALUE = 1_000_000
MAX_INT_BITS = 4096
MAX_BUILT = 8_000_000
MAX_OUTPUT = 4_000_000
MAX_STEPS = 200_000
MAX_CPU_SECONDS = 1.0
MAX_SOURCE = 1_000_000  # characters of template text

_ITER, _VALUE, _OUT = "ticketctl_bounded_iter", "ticketctl_bounded_value", "ticketctl_bounded_out"


class TemplateTooBig(Exception):  # noqa: N818 - says what the template would do, not that it failed
    """A template went beyond a bound; `reason` completes "it ..." in a sentence."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Budget:
    """What one render has spent."""

    __slots__ = ("steps", "built", "written", "_cpu_from")

    def __init__(self) -> None:
        self.steps = self.built = self.written = 0
        # The CPU clock is a system call (slow on a busy VM): read from the first check on, every 256
        # steps, so a mail's template of fewer steps never reads it; steps before it are bounded anyway.
        self._cpu_from: float | None = None

    def step(self, count: int = 1) -> None:
        self.steps += count
        if self.steps > MAX_STEPS:
            raise TemplateTooBig(f"takes more than {MAX_STEPS:,} steps (turns of a loop, calls, filters)")
        if self.steps & 0xFF < count:
            now = time.thread_time()
            if self._cpu_from is None:
                self._cpu_from = now
            elif now - self._cpu_from > MAX_CPU_SECONDS:
                raise TemplateTooBig(f"runs longer than {MAX_CPU_SECONDS:g} second(s)")

    def value(self, value: Any) -> Any:
        size = _size(value)
        if size > MAX_VALUE:
            raise TemplateTooBig(f"would build a value of more than {MAX_VALUE:,} characters or items")
        if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
            raise TemplateTooBig(f"would compute a number of more than {MAX_INT_BITS:,} bits")
        self.built += size
        if self.built > MAX_BUILT:
            raise TemplateTooBig(f"would build more than {MAX_BUILT:,} characters or items in all")
        return value

    def wrote(self, size: int) -> None:
        self.written += size
        if self.written > MAX_OUTPUT:
            raise TemplateTooBig(f"would write more than {MAX_OUTPUT:,} characters")


_budget: ContextVar[Budget | None] = ContextVar("ticketctl_template_budget", default=None)


@contextmanager
def bounded() -> Iterator[Budget]:
    """Render inside this: every hook charges the one budget it sets."""
    budget = Budget()
    token = _budget.set(budget)
    try:
        yield budget
    finally:
        _budget.reset(token)


def _current() -> Budget:
    return _budget.get() or Budget()  # outside bounded() (never, in practice): each value still checked


class BoundedEnvironment(ImmutableSandboxedEnvironment):
    """The sandbox (lists, dicts and sets cannot be changed in place either) with the bounds above."""

    intercepted_binops = frozenset({"*", "**", "%", "+", "//"})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.globals["range"] = bounded_range
        self.globals.pop("lipsum", None)
        self.filters = {name: _bounded_filter(name, f) for name, f in self.filters.items()}
        self.filters[_ITER] = _iterate
        self.filters[_VALUE] = _checked
        self.filters[_OUT] = _written

    def compile(self, source: Any, name: str | None = None, filename: str | None = None, *a: Any, **k: Any) -> Any:
        if isinstance(source, str):
            if len(source) > MAX_SOURCE:
                raise TemplateTooBig(f"is {len(source):,} characters long, more than {MAX_SOURCE:,}")
            source = self.parse(source, name, filename)
        tree = _Counted().visit(source)
        tree.set_environment(self)
        return super().compile(tree, name, filename, *a, **k)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805 - Jinja's form
        budget = _current()
        budget.step()
        args = _check_call(__obj, args, kwargs, budget)
        return budget.value(super().call(__context, __obj, *args, **kwargs))

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        budget = _current()
        budget.step()
        if operator == "*":
            _check_repeat(left, right)
        elif operator == "**":
            _check_power(left, right)
        elif operator == "%" and isinstance(left, str):
            _check_printf(left, right)
        return budget.value(self.binop_table[operator](left, right))

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        wrapper = super().wrap_str_format(value)
        if wrapper is None:
            return None
        fmt, is_map = value.__self__, value.__name__ == "format_map"

        @functools.wraps(wrapper)
        def checked(*args: Any, **kwargs: Any) -> str:
            if is_map:
                _check_format(self, fmt, (), args[0] if args else {})
            else:
                _check_format(self, fmt, args, kwargs)
            return wrapper(*args, **kwargs)

        return checked


def bounded_range(*args: int) -> range:
    numbers = range(*args)
    if len(numbers) > MAX_RANGE:
        raise TemplateTooBig(f"asks range() for {len(numbers):,} numbers, more than {MAX_RANGE:,}")
    return numbers


class _Counted(NodeTransformer):
    """Route each loop's iterable, each `~` and each piece of output through a counting filter."""

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = _through(_ITER, node.iter)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return _through(_VALUE, node)

    def visit_Output(self, node: nodes.Output) -> nodes.Node:
        self.generic_visit(node)
        node.nodes = [_through(_OUT, child) for child in node.nodes]
        return node


def _through(name: str, node: nodes.Node) -> nodes.Filter:
    return nodes.Filter(node, name, [], [], None, None, lineno=node.lineno)


@pass_context
def _iterate(context: Any, iterable: Any) -> Iterator[Any]:
    budget = _current()
    for item in iterable:
        budget.step()
        yield item


@pass_context
def _checked(context: Any, value: Any) -> Any:
    return _current().value(value)


@pass_context
def _written(context: Any, value: Any) -> Any:
    """A piece of output, charged before it is written (Markup stays Markup, so nothing is escaped twice)."""
    if not isinstance(value, str) and not hasattr(value, "__html__"):
        value = str(value)  # StrictUndefined raises here, as writing it would
    _current().wrote(len(value) if isinstance(value, str) else len(str(value)))
    return value


def _bounded_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """`func` behind the budget: a step, the checks for filters that multiply their input, the value."""
    pass_arg = getattr(func, "jinja_pass_arg", None)
    check = _FILTER_CHECKS.get(name)
    sized = name in _SIZE_ARGUMENTS

    @pass_context
    @functools.wraps(func)
    def bounded_filter(context: Any, value: Any, *args: Any, **kwargs: Any) -> Any:
        budget = _current()
        budget.step()
        for arg in (*args, *kwargs.values()) if sized else ():
            if isinstance(arg, int) and not isinstance(arg, bool) and arg > MAX_VALUE:
                raise TemplateTooBig(f"gives the {name} filter the size {arg:,}, more than {MAX_VALUE:,}")
        if check is not None:
            value, args = check(value, args, kwargs, budget)
        first = {"context": (context,), "eval_context": (context.eval_ctx,), "environment": (context.environment,)}
        before = first.get(getattr(pass_arg, "name", ""), ())
        return budget.value(func(*before, value, *args, **kwargs))

    return bounded_filter


# --- the checks before a value is built ----------------------------------------------------------


def _size(value: Any) -> int:
    return len(value) if isinstance(value, (str, bytes, list, tuple, dict, set, frozenset)) else 0


def _too_big(estimate: int, what: str) -> None:
    if estimate > MAX_VALUE:
        raise TemplateTooBig(f"would build {what} of about {estimate:,} characters, more than {MAX_VALUE:,}")


def _text_size(value: Any, repr_: bool = False) -> int:
    if isinstance(value, str) and not repr_:
        return len(value)
    if isinstance(value, str):
        return 6 * len(value) + 2
    return len(repr(value) if repr_ else str(value))


def _check_repeat(left: Any, right: Any) -> None:
    for seq, times in ((left, right), (right, left)):
        if isinstance(seq, (str, bytes, list, tuple)) and isinstance(times, int):
            _too_big(len(seq) * times, "a repeated value")
    if isinstance(left, int) and isinstance(right, int) and left.bit_length() + right.bit_length() > MAX_INT_BITS:
        raise TemplateTooBig(f"would compute a number of more than {MAX_INT_BITS:,} bits")


def _check_power(base: Any, exponent: Any) -> None:
    if isinstance(base, int) and isinstance(exponent, int) and exponent > 0 and abs(base) > 1:
        if base.bit_length() * exponent > MAX_INT_BITS:
            raise TemplateTooBig(f"would compute a number of more than {MAX_INT_BITS:,} bits")


_PRINTF = re.compile(r"%(?:\((?P<key>[^)]*)\))?[-#0 +]*(?P<width>\*|\d+)?(?:\.(?P<precision>\*|\d+))?[hlL]?(?P<conv>.)")


def _check_printf(fmt: str, values: Any) -> None:
    """`fmt % values` would stay within MAX_VALUE (each conversion: its width, precision and value)."""
    positional = list(values) if isinstance(values, tuple) else [values]
    estimate, index = len(fmt), 0
    for spec in _PRINTF.finditer(fmt):
        if spec["conv"] == "%":
            continue
        if "*" in (spec["width"] or "", spec["precision"] or ""):
            raise TemplateTooBig("takes a width from its values ('%*'), which a template may not")
        if spec["key"] is not None and hasattr(values, "get"):
            value = values.get(spec["key"], "")
        else:
            value = positional[index] if index < len(positional) else ""
            index += 1
        estimate += int(spec["width"] or 0) + int(spec["precision"] or 0) + _text_size(value, spec["conv"] in "ra")
        _too_big(estimate, "a formatted string")


def _check_format(env: Any, fmt: str, args: tuple[Any, ...], kwargs: Any) -> None:
    """`fmt.format(*args, **kwargs)` would stay within MAX_VALUE; a width taken from an argument is refused."""
    formatter = SandboxedFormatter(env)
    estimate, auto = 0, 0
    for literal, field, spec, conversion in Formatter().parse(fmt):
        estimate += len(literal)
        if field is None:
            continue
        if "{" in (spec or ""):
            raise TemplateTooBig("takes a format width from its values ('{:{}}'), which a template may not")
        if field == "" or field[0] in ".[":
            field, auto = f"{auto}{field}", auto + 1
        try:
            value, _ = formatter.get_field(field, args, kwargs)
        except Exception:  # noqa: BLE001 - the call itself reports what is wrong with the field
            value = ""
        estimate += sum(int(n) for n in re.findall(r"\d+", spec or "")) + _text_size(value, conversion in ("r", "a"))
        _too_big(estimate, "a formatted string")


def _arg(args: tuple[Any, ...], kwargs: dict[str, Any], index: int, name: str, default: Any) -> Any:
    return args[index] if len(args) > index else kwargs.get(name, default)


def _check_call(obj: Any, args: tuple[Any, ...], kwargs: dict[str, Any], budget: Budget) -> tuple[Any, ...]:
    """Methods of str and bytes that can build far more than they are given; returns the arguments
    (an iterable to join is made a list first, to be measured)."""
    text = getattr(obj, "__self__", None)
    if not isinstance(text, (str, bytes)):
        return args
    method = getattr(obj, "__name__", "")
    if method in ("center", "ljust", "rjust", "zfill"):
        width = _arg(args, kwargs, 0, "width", 0)
        if isinstance(width, int):
            _too_big(width, f"a padded string ({method})")
    elif method == "expandtabs":
        tabsize = _arg(args, kwargs, 0, "tabsize", 8)
        if isinstance(tabsize, int):
            tabs = text.count("\t") if isinstance(text, str) else text.count(b"\t")
            _too_big(len(text) + tabs * tabsize, "expanded tabs")
    elif method == "replace" and len(args) >= 2:
        _check_replace(text, args[0], args[1], args[2] if len(args) > 2 else -1)
    elif method == "join" and args:
        items = list(args[0])
        budget.step(len(items))
        _check_join(text, items)
        return (items, *args[1:])
    elif method == "translate" and args and isinstance(args[0], dict):
        longest = max((_size(v) for v in args[0].values()), default=1)
        _too_big(len(text) * max(longest, 1), "a translated string")
    return args


def _check_replace(text: Any, old: Any, new: Any, count: Any) -> None:
    if not isinstance(old, type(text)) or not isinstance(new, type(text)):
        return
    found = text.count(old) if old else len(text) + 1
    if isinstance(count, int) and count >= 0:
        found = min(found, count)
    _too_big(len(text) + found * (len(new) - len(old)), "a replaced string")


def _check_join(separator: Any, items: list[Any]) -> None:
    estimate = len(separator) * max(len(items) - 1, 0)
    _too_big(estimate, "a joined string")
    for item in items:
        estimate += _text_size(item)
        _too_big(estimate, "a joined string")


# Filters that build more than they are given: checked (and their input made a list) before they run.
FilterCheck = Callable[[Any, tuple[Any, ...], dict[str, Any], Budget], tuple[Any, tuple[Any, ...]]]


def _listed(value: Any, budget: Budget) -> list[Any]:
    items = list(value)
    budget.step(len(items))
    return items


def _filter_join(value: Any, args: tuple[Any, ...], kwargs: dict[str, Any], budget: Budget) -> Any:
    items = _listed(value, budget)
    if _arg(args, kwargs, 1, "attribute", None) is None:
        _check_join(str(_arg(args, kwargs, 0, "d", "")), items)
    return items, args


def _filter_indent(value: Any, args: tuple[Any, ...], kwargs: dict[str, Any], budget: Budget) -> Any:
    width = _arg(args, kwargs, 0, "width", 4)
    prefix = width if isinstance(width, int) else len(str(width))
    text = str(value)
    _too_big(len(text) + (text.count("\n") + 1) * prefix, "an indented string")
    return value, args


def _filter_wordwrap(value: Any, args: tuple[Any, ...], kwargs: dict[str, Any], budget: Budget) -> Any:
    width = _arg(args, kwargs, 0, "width", 79)
    wrap = _arg(args, kwargs, 2, "wrapstring", None) or "\n"
    text = str(value)
    lines = len(text) // max(width if isinstance(width, int) else 1, 1) + text.count("\n") + 1
    _too_big(len(text) + lines * len(str(wrap)), "a wrapped string")
    return value, args


def _filter_replace(value: Any, args: tuple[Any, ...], kwargs: dict[str, Any], budget: Budget) -> Any:
    if len(args) >= 2:
        _check_replace(str(value), str(args[0]), str(args[1]), args[2] if len(args) > 2 else kwargs.get("count"))
    return value, args


def _filter_format(value: Any, args: tuple[Any, ...], kwargs: dict[str, Any], budget: Budget) -> Any:
    _check_printf(str(value), kwargs or tuple(args))
    return value, args


def _filter_urlize(value: Any, args: tuple[Any, ...], kwargs: dict[str, Any], budget: Budget) -> Any:
    text = str(value)
    extra = sum(len(str(kwargs.get(k) or "")) for k in ("target", "rel")) + 64
    _too_big(len(text) + (text.count(" ") + text.count("\n") + 1) * extra, "a string of links")
    return value, args


def _filter_sum(value: Any, args: tuple[Any, ...], kwargs: dict[str, Any], budget: Budget) -> Any:
    items = _listed(value, budget)
    start = _arg(args, kwargs, 1, "start", 0)
    _too_big(_size(start) + sum(_size(i) for i in items), "a sum of sequences")
    return items, args


def _filter_tojson(value: Any, args: tuple[Any, ...], kwargs: dict[str, Any], budget: Budget) -> Any:
    indent = _arg(args, kwargs, 0, "indent", None)
    if isinstance(indent, int) and indent > 16:
        raise TemplateTooBig(f"indents JSON by {indent} spaces, more than 16")
    return value, args


# Filters whose numbers are sizes (a width, a count of pieces): none may exceed MAX_VALUE.
_SIZE_ARGUMENTS = frozenset({"center", "indent", "truncate", "wordwrap", "batch", "slice", "tojson", "urlize"})

_FILTER_CHECKS: dict[str, FilterCheck] = {
    "join": _filter_join,
    "indent": _filter_indent,
    "wordwrap": _filter_wordwrap,
    "replace": _filter_replace,
    "format": _filter_format,
    "urlize": _filter_urlize,
    "sum": _filter_sum,
    "tojson": _filter_tojson,
}
