"""Independent trainings on fresh worker processes, each given the stage's shared inputs once.

The sweep and weights stages fork their workers, because nothing has run the engine's forward pass
in their parent. A stage that forwards first (fewshot: the new words' spikes; table-train: the
timed forward pass F) must not fork after it: the engine runs its forward pass on an OpenMP thread pool (libgomp), and a child forked from a
process whose pool has started can hang at its first parallel region. These workers are spawned
instead: each imports the engine afresh (≈ 2 s, once) and receives the shared inputs in its
initializer, so only the small task tuples travel afterwards. Results come back in the tasks'
order whatever the number of workers, so a stage's output does not depend on it.
"""

from __future__ import annotations

import functools
import logging
import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from threadpoolctl import threadpool_limits
from tqdm import tqdm

from edgetune.edge import layer as edge
from edgetune.edge.sweep_pool import resolve_jobs

_WORKER: dict[str, Any] = {}


def _init_worker(fn: Callable, shared: Any) -> None:
    _WORKER.update(fn=fn, shared=shared)
    # One thread per worker (the engine's OpenMP pool, BLAS): the workers are the parallelism, and
    # two workers × two spinning threads on two cores would slow both.
    threadpool_limits(limits=1)
    edge.log.setLevel(logging.ERROR)  # the layer-size warning: said once by the parent


def _run(task: Any) -> Any:
    return _WORKER["fn"](_WORKER["shared"], task)


def map_tasks(fn: Callable[[Any, Any], Any], shared: Any, tasks: Sequence, jobs: int, jobs_name: str,
              desc: str, unit: str = "task") -> list:
    """``[fn(shared, t) for t in tasks]`` on ``jobs`` workers (0 = every core; 1 = in this process).

    ``fn`` must be a module-level function and ``shared`` picklable: a spawned worker imports the one and
    unpickles the other.
    """
    workers = resolve_jobs(jobs, len(tasks), jobs_name)
    if workers == 1:
        return list(tqdm(map(functools.partial(fn, shared), tasks), total=len(tasks), desc=desc, unit=unit))
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"), initializer=_init_worker,
                             initargs=(fn, shared)) as pool:
        return list(tqdm(pool.map(_run, tasks), total=len(tasks), desc=desc, unit=unit))  # in the tasks' order
