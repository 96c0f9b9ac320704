"""GetMetricData answered from an index, with moto's answers unchanged.

moto's CloudWatchBackend.get_metric_data scans every datapoint of the account and
Region in the time window, for every query and every period of it: a fleet's
TunnelState history (250 connections x 2 tunnels x 15 minutes in one account and
Region) and the 500 queries a call may carry make that seconds per call. Here a call
whose queries are all MetricStat looks each query's datapoints up by (metric name,
dimension set) (by metric name when the query names no dimensions), a superset of
what moto's own test keeps, in moto's order, and then applies moto's own test and
statistics period by period, exactly as moto does: the answer is the same, datapoint
for datapoint. Calls with an Expression (metric math, Metrics Insights) go to moto's
own code unchanged.

The index over the backend's metric_data is kept up to date by what was appended
since the last call (moto only ever appends to it); a list replaced or shortened
(a restored state, a fleet seeded again) is indexed again from the start. It is not
saved: it is rebuilt from the datapoints at the first call.
"""

from __future__ import annotations

import threading
import weakref
from datetime import timedelta
from typing import Any

_moto_get_metric_data: Any = None  # set by the installer: moto's own get_metric_data

ENABLED = True  # False: moto's own scan (the tests compare both)


class _Index:
    """Positions in one metric_data list, by metric name and by (name, dimension set)."""

    def __init__(self, data: list) -> None:
        self.data = data
        self.length = 0
        self.by_name: dict[str, list[int]] = {}
        self.by_dimensions: dict[tuple[str, frozenset], list[int]] = {}
        self.extend()

    def extend(self) -> None:
        data, start = self.data, self.length
        for position in range(start, len(data)):
            datum = data[position]
            self.by_name.setdefault(datum.name, []).append(position)
            self.by_dimensions.setdefault(_key(datum.name, datum.dimensions), []).append(position)
        self.length = len(data)


def _key(name: str, dimensions: list) -> tuple[str, frozenset]:
    return name, frozenset((d.name, d.value) for d in dimensions)


_indexes: dict[int, tuple[Any, _Index]] = {}  # id(backend) -> (weak reference to it, its index)
_lock = threading.Lock()


def _index(backend: Any) -> _Index:
    with _lock:
        found = _indexes.get(id(backend))
        if found is not None and found[0]() is backend:
            index = found[1]
            if index.data is backend.metric_data and index.length <= len(index.data):
                index.extend()
                return index
        index = _Index(backend.metric_data)
        key = id(backend)
        _indexes[key] = (weakref.ref(backend, lambda _ref: _indexes.pop(key, None)), index)
        return index


class IndexedMetricDataBackend:
    """Installed into moto's CloudWatchBackend (extensions.install_fleet)."""

    metric_data: list
    aws_metric_data: list

    def get_metric_data(
        self, queries: list[dict[str, Any]], start_time: Any, end_time: Any, scan_by: str = "TimestampAscending"
    ) -> list[dict[str, Any]]:
        if not ENABLED or any("MetricStat" not in q for q in queries):
            return _moto_get_metric_data(self, queries, start_time, end_time, scan_by)
        from moto.cloudwatch.exceptions import ValidationError
        from moto.cloudwatch.models import Dimension, Statistics

        start_time = start_time.replace(microsecond=0)
        end_time = end_time.replace(microsecond=0)
        if start_time > end_time:
            raise ValidationError("The parameter EndTime must be greater than StartTime.")
        if start_time == end_time:
            raise ValidationError("The parameter StartTime must not equal parameter EndTime.")
        index = _index(self)
        stored = index.data[: index.length]
        others = self.aws_metric_data  # computed on the fly by moto's providers (few)
        others_index = _Index(others) if others else None

        results_to_return = []
        for query in queries:
            metric_stat = query["MetricStat"]
            query_ns = metric_stat["Metric"]["Namespace"]
            query_name = metric_stat["Metric"]["MetricName"]
            delta = timedelta(seconds=int(metric_stat["Period"]))
            dimensions = [
                Dimension(name=d["Name"], value=d["Value"]) for d in metric_stat["Metric"].get("Dimensions", [])
            ]
            unit = metric_stat.get("Unit")
            stat = metric_stat["Stat"]
            # A superset of the datapoints moto's test keeps, in moto's order (get_all_metrics).
            if dimensions and all(d.value is not None for d in dimensions):
                key = _key(query_name, dimensions)
                candidates = [stored[i] for i in index.by_dimensions.get(key, ())]
                if others_index is not None:
                    candidates += [others[i] for i in others_index.by_dimensions.get(key, ())]
            else:
                candidates = [stored[i] for i in index.by_name.get(query_name, ())]
                if others_index is not None:
                    candidates += [others[i] for i in others_index.by_name.get(query_name, ())]
            period_data = [md for md in candidates if start_time <= md.timestamp < end_time]
            # From here on, moto's own loop (moto.cloudwatch.models.CloudWatchBackend.get_metric_data).
            result_vals: list = []
            timestamps: list = []
            period_start_time = start_time
            while period_start_time <= end_time:
                period_end_time = period_start_time + delta
                period_md = [md for md in period_data if period_start_time <= md.timestamp < period_end_time]
                query_period_data = [md for md in period_md if md.namespace == query_ns and md.name == query_name]
                if dimensions:
                    query_period_data = [
                        md for md in period_md if sorted(md.dimensions) == sorted(dimensions) and md.name == query_name
                    ]
                if unit:
                    query_period_data = [md for md in query_period_data if md.unit == unit]
                if len(query_period_data) > 0:
                    stats = Statistics([stat], period_start_time)
                    stats.metric_data = query_period_data
                    result_vals.append(stats.get_statistics_for_type(stat))
                    timestamps.append(stats.timestamp)
                period_start_time += delta
            if scan_by == "TimestampDescending" and len(timestamps) > 0:
                timestamps.reverse()
                result_vals.reverse()
            label = query.get("Label") or f"{query_name} {stat}"
            if query.get("ReturnData", True):
                results_to_return.append(
                    {
                        "id": query["Id"],
                        "label": label,
                        "values": result_vals,
                        "timestamps": timestamps,
                        "status_code": "Complete",
                    }
                )
        return results_to_return
