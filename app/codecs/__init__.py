"""Codecs at the edges: the typed objects the pipeline passes around, as the bytes that
leave a process, and back. One module per message kind:

* ``window_result`` and ``drift_event``: the windows and alerts topics, and the lines
  ``driftline analyze`` writes (``app.pipeline.results`` holds the objects);
* ``partials``: a stage-1 output (a partial window or a watermark) on the partials topic,
  and the partial document the state codecs below embed;
* ``stage1_snapshot``: a source partition's binner on the stage-1 snapshot topic;
* ``stage2_state``: a partials partition's merger in the ``stage2`` table;
* ``partition_run``: a replay process's binned partition on its multiprocessing queue.

Why one package of its own. Inside a process results, partials and histograms stay
objects; they become JSON only where they cross a process boundary (Kafka, a file, a
queue), so the rules for that JSON live together, next to each other, and nowhere else.
The package sits above the pure core (it needs the core's types) and below ``app.stream``
and ``app.cli``, which call it. The two codecs that sit lower stay where they are for that
reason: ``app.contracts`` decodes input events and builds the dead letter of an input the
core rejects (the core depends on both), and ``app.baseline.codec`` is the baseline's file
and topic format (the registry and the builder depend on it).

Determinism: documents are written by ``to_json`` (orjson: keys in construction order,
floats in shortest round-trip form), so equal objects give byte-identical output.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson


def to_json(doc: Mapping[str, Any]) -> bytes:
    """The document's bytes (deterministic: keys in construction order, shortest floats)."""
    return orjson.dumps(doc)
