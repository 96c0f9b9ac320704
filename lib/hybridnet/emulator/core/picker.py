"""The attribute names moto's serializer tries, worked out once per kind of object.

For every member of every response, moto's AttributePicker asks its alias
providers (explicit Meta aliases, the model's serialization name, shape and
class prefixes, the shape's name, then the snake_case forms) which attribute
names to try, building a provider object per question. Those names depend only
on the object's class (its name and Meta), the member's key and the member's
shape (and the structure it sits in), never on the object's values; yet moto
works them out again for each object, which is most of the time DescribeVpn-
Connections takes for a fleet (hundreds of connections, each with two tunnels'
options). Remembering the names per (picker, class, key, shape) leaves the answer
as it was: the same names, tried in the same order, on each object. Dicts too:
the providers read attributes (a dict's Meta, its class name), never its keys,
so their answer is the dict type's. Objects whose Meta is their own are left alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

_cache: dict[tuple, tuple[Any, Any, tuple[str, ...]]] = {}


def cached_possible_keys(original: Callable[[Any, Any], Iterable[str]]) -> Callable[[Any, Any], Iterable[str]]:
    """Wraps a picker class's get_possible_keys(self, context)."""

    def get_possible_keys(self: Any, context: Any) -> Iterable[str]:
        obj, shape = context.obj, context.shape
        if getattr(obj, "Meta", None) is not getattr(type(obj), "Meta", None):
            return original(self, context)
        parent = getattr(shape, "parent", None)
        key = (type(self), type(obj), context.key, id(shape), id(parent))
        hit = _cache.get(key)
        # The shapes are held by the entry, so their ids cannot be reused by others while it lives.
        if hit is None or hit[0] is not shape or hit[1] is not parent:
            hit = (shape, parent, tuple(original(self, context)))
            _cache[key] = hit
        return hit[2]

    return get_possible_keys


__all__ = ["cached_possible_keys"]
