"""Read exposition text back into samples, with Prometheus' own parser."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

Sample = tuple[str, tuple[tuple[str, str], ...]]


def samples(text: str | bytes) -> dict[Sample, float]:
    """{(sample name, sorted labels): value} of every sample in the text."""
    body = text.decode() if isinstance(text, bytes) else text
    out: dict[Sample, float] = {}
    for family in text_string_to_metric_families(body):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(found: dict[Sample, float], name: str, **labels: str) -> float:
    return found[(name, tuple(sorted(labels.items())))]


def metric_names(text: str | bytes) -> set[str]:
    """Every sample name (histograms give _bucket, _count and _sum)."""
    return {name for name, _ in samples(text)}
