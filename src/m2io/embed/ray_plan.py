"""When embedding on a local Ray pays: a model of both build times, fitted on measurements, and the
choice ``m2io index`` makes with it.

In process, the ONNX embedder runs one session whose threads share the machine's cores; its
speed-up over one thread follows Amdahl's law with the parallel fraction measured between one
thread and every core. On a local Ray, each core gets a worker holding its own model on one
thread: one worker embeds at about the one-thread rate, each further worker adds a measured
fraction of that, and the instance costs a start-up (Ray's processes, one model load per worker)
that every build pays. So Ray pays only past a corpus size, which shrinks with the cores::

    ray_s(n, c)        = startup_s + n / (worker * (1 + (c - 1) * worker_scaling))
    in_process_s(n, c) = n / (one_thread / ((1 - parallel) + parallel / c))

:data:`MEASURED` holds the figures of ``benchmarks/ray_embed.py`` on the 2-core dev machine
(docs/scaling.md, "Embedding on Ray"); beyond 2 cores the two curves are extrapolated, not
measured. :func:`plan_embedding` turns them into a decision and the sentence that explains it.

Example (2 cores, 650 chunks)::

    plan_embedding(None, cores=2, texts=650).use_ray   # False: in process, and why
"""

from __future__ import annotations

from dataclasses import dataclass

RAY_MIN_CORES = 4
"""Below this many local cores ``--ray local`` always warns: the workers split the cores the
in-process session already uses, and the gain measured on 2 cores ranged from a loss to 1.35x with
the machine's other load (docs/scaling.md)."""
MIN_SAVING = 0.25
"""The default build starts a local Ray only where the model predicts it saves at least this
fraction of the in-process time..."""
MIN_SAVING_S = 30.0
"""...and at least this many seconds: the model is extrapolated past 2 cores, and a Ray instance
costs memory (a model per worker) that a small gain does not repay."""


@dataclass(frozen=True)
class RayModel:
    """Build-time model of in-process and local-Ray embedding (see the module text).

    Attributes:
        one_thread: Chunks/s of the in-process embedder on one thread.
        parallel: Amdahl parallel fraction of the in-process embedder over its threads (0-1).
        worker: Chunks/s of one Ray worker (one thread; shipping texts and vectors included).
        worker_scaling: What each further worker adds, as a fraction of ``worker`` (0-1).
        startup_s: Seconds from starting Ray to every worker holding its model.
        source: Where the figures come from.
    """

    one_thread: float
    parallel: float
    worker: float
    worker_scaling: float
    startup_s: float
    source: str = ""

    def in_process_s(self, texts: int, cores: int) -> float:
        speedup = 1.0 / ((1.0 - self.parallel) + self.parallel / max(1, cores))
        return texts / (self.one_thread * speedup)

    def ray_s(self, texts: int, cores: int) -> float:
        """With one worker per core, start-up included."""
        rate = self.worker * (1.0 + (max(1, cores) - 1) * self.worker_scaling)
        return self.startup_s + texts / rate

    def crossover(self, cores: int) -> int | None:
        """The fewest texts from which Ray on ``cores`` cores is predicted faster than in
        process, or None where it never is (its rate is no better)."""
        per_text_gain = self.in_process_s(1, cores) - (self.ray_s(1, cores) - self.startup_s)
        if per_text_gain <= 0:
            return None
        return int(self.startup_s / per_text_gain) + 1


def fit_ray_model(
    *,
    one_thread: float,
    all_threads: float,
    cores: int,
    ray_workers: dict[int, float],
    startup_s: float,
    source: str = "",
) -> RayModel:
    """A :class:`RayModel` from measured rates (chunks/s): in process on one thread and on
    ``cores`` threads, and Ray with 1 and 2 workers (``{1: rate, 2: rate}``).

    Example:
        >>> m = fit_ray_model(one_thread=10, all_threads=15, cores=2,
        ...                   ray_workers={1: 10, 2: 18}, startup_s=8)
        >>> round(m.parallel, 2), round(m.worker_scaling, 2)
        (0.67, 0.8)
    """
    speedup = all_threads / one_thread if one_thread > 0 else 1.0
    parallel = (1.0 - 1.0 / speedup) / (1.0 - 1.0 / cores) if cores > 1 and speedup > 0 else 0.0
    one = ray_workers.get(1, 0.0)
    scaling = ray_workers[2] / one - 1.0 if one > 0 and 2 in ray_workers else 1.0
    return RayModel(
        one_thread=round(one_thread, 2),
        parallel=round(min(1.0, max(0.0, parallel)), 3),
        worker=round(one, 2),
        worker_scaling=round(min(1.0, max(0.0, scaling)), 3),
        startup_s=round(startup_s, 1),
        source=source,
    )


MEASURED = RayModel(
    one_thread=24.78,
    parallel=0.965,
    worker=25.36,
    worker_scaling=0.463,
    startup_s=4.5,
    source="benchmarks/ray_embed.py, 768 GIMP chunks, 2-core dev machine, 2026-12-08, load 0.9 -> 1.7",
)
"""The model as fitted on this project's dev machine when nothing else ran on it (docs/RESULTS.md,
"Ray on a quiet machine"; ``results/ray_embed-quiet-2026-12-08.json``): one ONNX session on both
cores ran 47.3-48.4 chunks/s against 24.8 on one thread (parallel fraction 0.965), two one-thread
Ray workers 37.1 (0.78x in process, before their 2.8-4.6 s start-up). With the session scaling
that well, Ray never pays on any number of cores (the crossover is None from 2 to 16): the
default embeds in process. The 2026-12-07 fits (load 5-8, other jobs holding the cores) had the
session gain nothing from its second thread and put the crossover at ~557 texts on 2 cores and
~284 on 4; a machine unlike this one should be re-fitted with the benchmark, which prints the
model."""


@dataclass(frozen=True)
class EmbeddingPlan:
    """What :func:`plan_embedding` decided.

    Attributes:
        use_ray: Embed on Ray.
        in_process_s: Predicted embedding seconds in process (None: not judged).
        ray_s: Predicted seconds on a local Ray, start-up included (None: not judged).
        message: What to tell the user (None: nothing worth a line).
        warn: Whether ``message`` is a warning (Ray was asked for and is expected to be slower).
    """

    use_ray: bool
    in_process_s: float | None = None
    ray_s: float | None = None
    message: str | None = None
    warn: bool = False


def plan_embedding(
    address: str | None, *, cores: int | None, texts: int, model: RayModel | None = None
) -> EmbeddingPlan:
    """Whether to embed ``texts`` texts on Ray, for ``--ray ADDRESS`` (None: not given).

    - Not given: in process, unless the model predicts a local Ray on ``cores`` cores at least
      :data:`MIN_SAVING` and :data:`MIN_SAVING_S` faster; the message says which and why.
    - ``local``: Ray, as asked; a warning with the predicted figures when it is expected to be
      slower or there are fewer than :data:`RAY_MIN_CORES` cores.
    - ``auto`` or a cluster address: Ray, not judged (a cluster adds machines; this one's cores
      say nothing about it).

    Example:
        >>> plan_embedding("local", cores=2, texts=600).warn
        True
    """
    cores = max(1, cores or 1)
    model = model or MEASURED
    if address not in (None, "local"):
        return EmbeddingPlan(use_ray=True)
    inproc, ray = model.in_process_s(texts, cores), model.ray_s(texts, cores)
    figures = (
        f"~{texts} texts on {cores} cores: predicted {inproc:.0f} s in process, {ray:.0f} s on "
        f"a local Ray ({cores} workers, {model.startup_s:.0f} s of it start-up)"
    )
    pays = model.crossover(cores)
    where = f"it pays from ~{pays} texts here" if pays is not None else "it does not pay here"
    if address == "local":
        slower = ray >= inproc
        if not slower and cores >= RAY_MIN_CORES:
            return EmbeddingPlan(True, inproc, ray)
        why = "slower than in process" if slower else f"on fewer than {RAY_MIN_CORES} cores"
        return EmbeddingPlan(
            True,
            inproc,
            ray,
            f"--ray local, {why}: {figures}; {where} (model fitted in benchmarks/ray_embed.py, "
            "docs/scaling.md); leave out --ray to let the build choose",
            warn=True,
        )
    saving = inproc - ray
    if saving >= MIN_SAVING * inproc and saving >= MIN_SAVING_S:
        return EmbeddingPlan(True, inproc, ray, f"embedding on a local Ray: {figures}")
    if saving > 0:
        where = (
            f"Ray would save {saving:.0f} s, under the {MIN_SAVING:.0%} and {MIN_SAVING_S:.0f} s "
            "that starting it unasked needs"
        )
    return EmbeddingPlan(False, inproc, ray, f"embedding in process: {figures}; {where}")
