"""Adding up the selection ciphertexts of many ballots, fast.

The tally's whole cost is one ristretto255 addition per selection ciphertext component. Here
each addition is a single call into the native variable-time library (the values are public)
that decodes the point into a running sum kept in extended coordinates, with no encoding in
between and no Python objects per point. It refuses any encoding that is not a canonical
valid point, so a bad stored row can never be summed silently.

It runs in the calling process (the tally calls it in a thread): a 1-of-5 ballot costs about
55 µs, and splitting batches over a process pool cost more in pickling and start-up than it
saved (measured with benchmarks/tally_bench.py); several tally workers can share one tally
instead (results_service.service.tally_batch).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from securevote.crypto.group import GroupError
from securevote.crypto.native import Accumulator

OptionKey = tuple[str, str]
Sums = dict[OptionKey, tuple[bytes, bytes]]
ZERO = bytes(32)


class SumError(ValueError):
    """A ballot row cannot be added (malformed, unknown option, or not a valid point). The
    message says what is wrong in fixed words, never quoting the row (it ends up in the
    tally's ``failure``, the audit log and the logs)."""


def _point(text: object) -> bytes:
    if not isinstance(text, str) or len(text) != 64:
        raise SumError("a point is 64 hex digits")
    raw = bytes.fromhex(text)
    if raw[31] & 0x80:
        raise SumError("non-canonical point encoding")
    return raw


def sum_ballots(texts: Sequence[str], keys: Sequence[OptionKey]) -> Sums:
    """Per option, the sum of the (pad, data) components of ``texts`` (JCS ballots)."""
    pads = {key: Accumulator() for key in keys}
    datas = {key: Accumulator() for key in keys}
    for text in texts:
        try:
            ballot = json.loads(text)
            for question in ballot["questions"]:
                question_id = question["question"]
                for selection in question["selections"]:
                    key = (question_id, selection["option"])
                    if key not in pads:
                        raise SumError("a counted ballot names an option the election lacks")
                    ciphertext = selection["ciphertext"]
                    try:
                        pads[key].add(_point(ciphertext["pad"]))
                        datas[key].add(_point(ciphertext["data"]))
                    except GroupError:
                        raise SumError("a ciphertext component is not a valid point") from None
        except (KeyError, TypeError, ValueError) as error:
            if isinstance(error, SumError):
                raise
            raise SumError(f"a counted ballot is malformed: {type(error).__name__}") from None
    return {key: (pads[key].encoding(), datas[key].encoding()) for key in keys}


def combine(parts: Sequence[Sums], keys: Sequence[OptionKey]) -> Sums:
    total: Sums = {}
    for key in keys:
        pad, data = Accumulator(), Accumulator()
        for part in parts:
            part_pad, part_data = part[key]
            try:
                pad.add(part_pad)
                data.add(part_data)
            except GroupError:
                raise SumError("a partial sum is not a valid point") from None
        total[key] = (pad.encoding(), data.encoding())
    return total
