"""moto's server finds the service of each request by host, and on the way lists
moto's package folder (listdir plus a stat per entry, about 150) under the
dispatcher's lock: per request, for an answer that cannot change while the
process runs. Listed once here, the same names in the same order."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable


def listed_once(list_of_moto_modules: Callable[[], Iterable[str]]) -> Callable[[], tuple[str, ...]]:
    @functools.cache
    def modules() -> tuple[str, ...]:
        return tuple(list_of_moto_modules())

    modules.hybridnet_cached = True  # type: ignore[attr-defined]  # a marker: installed once
    return modules


__all__ = ["listed_once"]
