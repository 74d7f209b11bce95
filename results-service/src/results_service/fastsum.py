"""Adding up the selection ciphertexts of many ballots, fast, on every core.

The tally's whole cost is one ristretto255 addition per selection ciphertext component. Here
each addition is a single libsodium call into a running sum kept as raw bytes (no Python
objects per point), and its return code is checked: libsodium refuses any encoding that is
not a valid point, and the top bit (which libsodium 1.0.18 ignores) is checked here, so a bad
stored row can never be summed silently. Large batches are split over a pool of processes
(one per core) whose partial sums are added at the end.
"""

from __future__ import annotations

import asyncio
import ctypes
import json
import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor

import pysodium

OptionKey = tuple[str, str]
Sums = dict[OptionKey, tuple[bytes, bytes]]
ZERO = bytes(32)
#: below this many ballots a batch is summed in the calling process
PARALLEL_THRESHOLD = 400

_add = pysodium.sodium.crypto_core_ristretto255_add
_pool: ProcessPoolExecutor | None = None


class SumError(ValueError):
    """A ballot row cannot be added (malformed, unknown option, or not a valid point)."""


def _point(text: object) -> bytes:
    if not isinstance(text, str) or len(text) != 64:
        raise SumError("a point is 64 hex digits")
    raw = bytes.fromhex(text)
    if raw[31] & 0x80:
        raise SumError("non-canonical point encoding")
    return raw


def sum_ballots(texts: Sequence[str], keys: Sequence[OptionKey]) -> Sums:
    """Per option, the sum of the (pad, data) components of ``texts`` (JCS ballots)."""
    pads = {key: ctypes.create_string_buffer(32) for key in keys}
    datas = {key: ctypes.create_string_buffer(32) for key in keys}
    for text in texts:
        try:
            ballot = json.loads(text)
            for question in ballot["questions"]:
                question_id = question["question"]
                for selection in question["selections"]:
                    key = (question_id, selection["option"])
                    if key not in pads:
                        raise SumError(f"a counted ballot names an unknown option {key}")
                    ciphertext = selection["ciphertext"]
                    pad, data = pads[key], datas[key]
                    if _add(pad, pad, _point(ciphertext["pad"])) != 0:
                        raise SumError("a ciphertext pad is not a valid point")
                    if _add(data, data, _point(ciphertext["data"])) != 0:
                        raise SumError("a ciphertext data is not a valid point")
        except (KeyError, TypeError, ValueError) as error:
            if isinstance(error, SumError):
                raise
            raise SumError(f"a counted ballot is malformed: {type(error).__name__}") from None
    return {key: (pads[key].raw, datas[key].raw) for key in keys}


def combine(parts: Sequence[Sums], keys: Sequence[OptionKey]) -> Sums:
    total: Sums = {}
    for key in keys:
        pad = ctypes.create_string_buffer(32)
        data = ctypes.create_string_buffer(32)
        for part in parts:
            part_pad, part_data = part[key]
            if _add(pad, pad, part_pad) != 0 or _add(data, data, part_data) != 0:
                raise SumError("a partial sum is not a valid point")
        total[key] = (pad.raw, data.raw)
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
