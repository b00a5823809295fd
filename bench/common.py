"""What every benchmark shares."""


def percentile(values: list[float], fraction: float) -> float:
    """The nearest-rank percentile: the value `fraction` of the way up the sorted values."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]
