"""A bounded two-stage pipeline: produce the next chunk while the current one is stored.

Parsing and validating run in a second process, beside the inserts, so both cores work; a
thread would not do (CSV parsing and row binding hold the interpreter lock). The queue holds
at most ``depth`` chunks, so memory stays bounded by the chunk size.
"""

from __future__ import annotations

import queue
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

R = TypeVar("R")


def prefetch_in_process(produce: Callable[..., Iterable[R]], args: tuple, depth: int = 3) -> Iterator[R]:
    """Run the generator ``produce(*args)`` in a separate process, yielding its items in order.

    For big files: reading and validating then truly run beside the inserts on the second
    core. Items must pickle (Arrow arrays pickle as buffers, cheaply). An exception in the
    producer is re-raised here; if the consumer stops early, the producer is terminated.
    """
    import multiprocessing as mp

    ctx = mp.get_context("spawn")  # no fork of a process holding database connections
    q = ctx.Queue(maxsize=depth)
    proc = ctx.Process(target=_produce_into, args=(produce, args, q), name="census-audit-reader", daemon=True)
    proc.start()
    try:
        while True:
            try:
                tag, value = q.get(timeout=1.0)
            except queue.Empty:
                if not proc.is_alive() and q.empty():
                    raise RuntimeError(f"the reader process stopped unexpectedly (exit code {proc.exitcode})") from None
                continue
            if tag == "done":
                return
            if tag == "error":
                raise value
            yield value
    finally:
        if proc.is_alive():
            proc.terminate()
        proc.join(5)


def _produce_into(produce: Callable[..., Iterable], args: tuple, q) -> None:
    try:
        for item in produce(*args):
            q.put(("item", item))
        q.put(("done", None))
    except BaseException as exc:  # hand every failure to the consumer
        q.put(("error", exc))
