"""Adding up the selection ciphertexts of many ballots, fast, on every core.

The tally's whole cost is one ristretto255 addition per selection ciphertext component. Here
each addition is a single call into the native variable-time library (the values are public)
that decodes the point into a running sum kept in extended coordinates, with no encoding in
between and no Python objects per point. It refuses any encoding that is not a canonical
valid point, so a bad stored row can never be summed silently. Large batches are split over a
pool of processes (one per core) whose partial sums are added at the end.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor

from securevote.crypto.group import GroupError
from securevote.crypto.native import Accumulator

OptionKey = tuple[str, str]
Sums = dict[OptionKey, tuple[bytes, bytes]]
ZERO = bytes(32)
#: below this many ballots a batch is summed in the calling process
PARALLEL_THRESHOLD = 400

_pool: ProcessPoolExecutor | None = None


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


def _workers() -> int:
    return max(1, os.cpu_count() or 1)


def _executor() -> ProcessPoolExecutor:
    global _pool
    if _pool is None:
        _pool = ProcessPoolExecutor(
            max_workers=_workers(), mp_context=multiprocessing.get_context("spawn")
        )
    return _pool


async def sum_ballots_parallel(texts: Sequence[str], keys: Sequence[OptionKey]) -> Sums:
    """``sum_ballots`` over all cores for a large batch (in this process for a small one)."""
    workers = _workers()
    if len(texts) < PARALLEL_THRESHOLD or workers == 1:
        return await asyncio.to_thread(sum_ballots, texts, keys)
    size = -(-len(texts) // workers)
    loop = asyncio.get_running_loop()
    parts = await asyncio.gather(
        *(
            loop.run_in_executor(_executor(), sum_ballots, list(texts[i : i + size]), list(keys))
            for i in range(0, len(texts), size)
        )
    )
    return combine(parts, keys)
