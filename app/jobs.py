"""A training queue shared by every browser session: one background thread trains requested runs in order.

It also runs sweeps (:mod:`explorer.sweep`, Ray Tune trials on the validation splits), in the same order
with the runs, so a sweep and a training never compete for the machine.

Pages never train in their own script run (a rerun would interrupt it): they submit requests here and
poll the jobs' progress. A request whose run is cached finishes at once; a request for a run that is
already queued or training is not queued twice; the run cache's file lock keeps other processes (the
CLI, a second server) from training the same run at the same time.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from explorer import projection, runs, sweep
from explorer.data import Dataset
from explorer.errors import ExplorerError
from explorer.models import model_class
from explorer.protocol import Split
from explorer.training import Run


@dataclass
class Job:
    """One requested run and what is known of it so far."""

    model: str
    params: dict[str, Any]
    year: int
    fingerprint: str  # of the data set the run is for
    status: str = "queued"  # queued → running → mapping → done | failed
    step: int = 0
    total: int = 0
    losses: list[float] = field(default_factory=list)
    error: str = ""
    run: Run | None = None
    started: float = 0.0
    finished: float = 0.0

    @property
    def label(self) -> str:
        return f"{self.model} {self.year}"

    @property
    def active(self) -> bool:
        return self.status in ("queued", "running", "mapping")

    def progress(self, step: int, total: int, **metrics: float) -> None:
        self.step, self.total = step, total
        if "loss" in metrics:
            self.losses.append(metrics["loss"])


@dataclass
class SweepJob:
    """One requested sweep (validation trials only; the best setting is trained on request)."""

    request: Any  # an explorer.sweep plan: model, years, grid points, seeds, metric
    fingerprint: str
    status: str = "queued"  # queued → running → done | failed
    step: int = 0
    total: int = 0
    error: str = ""
    result: sweep.SweepResult | None = None
    started: float = 0.0
    finished: float = 0.0
    phase: str = ""  # starting Ray → trials → training best → done (see explorer.sweep.SweepProgress)
    elapsed: float = 0.0  # seconds since the sweep started

    @property
    def label(self) -> str:
        years = ", ".join(str(year) for year in self.request.years)
        return f"sweep of {self.request.model} for {years}"

    @property
    def active(self) -> bool:
        return self.status in ("queued", "running")

    def progress(self, done: int, total: int, phase: str = "trials", elapsed: float = 0.0) -> None:
        self.step, self.total, self.phase, self.elapsed = done, total, phase, elapsed


class TrainingQueue:
    """Trains submitted runs one after another in a daemon thread."""

    def __init__(self) -> None:
        self._jobs: list[Job] = []
        self._sweeps: list[SweepJob] = []
        self._pending: queue.Queue[tuple[Job | SweepJob, Dataset, Split | None]] = queue.Queue()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._work, name="explorer-training", daemon=True)
        self._thread.start()

    def submit(self, dataset: Dataset, split: Split, model: str, params: dict[str, Any]) -> Job:
        """Queue one run (or return the job already queued or training for it)."""
        with self._lock:
            wanted = (model, params, split.year, dataset.fingerprint)
            for job in self._jobs:
                if job.active and (job.model, job.params, job.year, job.fingerprint) == wanted:
                    return job
            job = Job(model=model, params=params, year=split.year, fingerprint=dataset.fingerprint)
            self._jobs.append(job)
            self._pending.put((job, dataset, split))
            return job

    def submit_sweep(self, dataset: Dataset, request: Any) -> SweepJob:
        """Queue a checked sweep (see :func:`explorer.sweep.plan`)."""
        with self._lock:
            job = SweepJob(request=request, fingerprint=dataset.fingerprint)
            self._sweeps.append(job)
            self._pending.put((job, dataset, None))
            return job

    @property
    def busy(self) -> bool:
        with self._lock:
            return any(job.active for job in [*self._jobs, *self._sweeps])

    def sweeps(self, fingerprint: str | None = None) -> list[SweepJob]:
        """The sweeps (of one data set, if given), oldest first."""
        with self._lock:
            return [job for job in self._sweeps if fingerprint in (None, job.fingerprint)]

    def jobs(self, fingerprint: str | None = None) -> list[Job]:
        """The jobs (of one data set, if given), oldest first."""
        with self._lock:
            return [job for job in self._jobs if fingerprint in (None, job.fingerprint)]

    def forget_finished(self) -> None:
        with self._lock:
            self._jobs = [job for job in self._jobs if job.active]
            self._sweeps = [job for job in self._sweeps if job.active]

    def _work(self) -> None:
        while True:
            job, dataset, split = self._pending.get()
            job.status, job.started = "running", time.time()
            if isinstance(job, SweepJob):
                self._sweep(job, dataset)
                continue
            try:
                job.run = runs.run_for(dataset, split, job.model, job.params, progress=job.progress)
                if model_class(job.model).has_embeddings:  # a model with embeddings: draw its default map now
                    job.status, job.step, job.total = "mapping", 0, 0
                    projection.projection_for(job.run.key, progress=job.progress)
                job.status = "done"
            except ExplorerError as error:
                job.status, job.error = "failed", str(error)
            except Exception as error:  # a bug: keep the server alive and show what happened
                job.status, job.error = "failed", f"Training failed unexpectedly ({type(error).__name__}: {error})."
            job.finished = time.time()

    @staticmethod
    def _sweep(job: SweepJob, dataset: Dataset) -> None:
        try:
            job.result = sweep.run_sweep(dataset, job.request, progress=job.progress, train_best=False)
            job.status = "done"
        except ExplorerError as error:
            job.status, job.error = "failed", str(error)
        except Exception as error:  # a bug or a Ray failure: keep the server alive and show what happened
            job.status, job.error = "failed", f"The sweep failed unexpectedly ({type(error).__name__}: {error})."
        job.finished = time.time()
