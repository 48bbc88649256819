"""Reads a scrape of the registry's /metrics with prometheus_client's OpenMetrics parser (the
Prometheus project's Python client; none of it written here) and prints what it makes of it as
JSON, for tests/it/metrics.rs to assert on. A scrape the parser refuses exits non-zero.

    metrics.py SCRAPE    {"families": {NAME: {"type": TYPE, "samples": [{"name", "labels", "value"}]}}}
"""

import json
import sys

from prometheus_client.openmetrics.parser import text_string_to_metric_families


def main(path):
    with open(path) as f:
        text = f.read()
    families = {}
    for family in text_string_to_metric_families(text):
        families[family.name] = {
            "type": family.type,
            "samples": [
                {"name": s.name, "labels": dict(s.labels), "value": s.value}
                for s in family.samples
            ],
        }
    print(json.dumps({"families": families}))


if __name__ == "__main__":
    main(sys.argv[1])
