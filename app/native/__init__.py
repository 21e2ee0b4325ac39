"""The compiled decode-and-bin path: a Rust extension (``driftline_native``, built from
this directory by ``make setup``) that parses, validates and bins a batch of raw records
into open windows' counts in one pass, with no Python object per event or per feature.

The pure-Python path (``app.pipeline.fold``) stays the reference and the fallback: the
extension folds only records it is sure about and stops at any other (invalid, unusual,
late, ahead of the clock, of a model or window not open yet, or one that closes windows),
which the Python path then takes, dead letters included. So every record's outcome is the
same on both paths (``tests/unit/native`` checks it). ``DRIFTLINE_NATIVE=0`` forces the
Python path; without the extension it is used too, and ``status_line`` says why.

The extension also splits fetched Kafka record batches (``split_records``, used by
``app.stream.record_runs``), so stage 1 and replay get a fetch's offsets and values
without an object per record; ``app.native.spans`` is its view of the values.
"""

from app.native.loader import NativeModule, load, status_line

__all__ = ["NativeModule", "load", "status_line"]
