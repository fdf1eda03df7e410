"""How this process was launched: multi-process CPU runs and the launcher pitfalls around them."""

from __future__ import annotations

import logging
import os

import torch

logger = logging.getLogger(__name__)


def use_cpu_processes() -> bool:
    """True for a torchrun-style launch (``accelerate launch --multi_gpu``, ``torchrun``) of several
    processes on a machine without GPUs: the ``Accelerator`` must then be created with ``cpu=True``
    so that the processes join over gloo instead of running as unconnected copies."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    has_gpu = torch.cuda.is_available() or (hasattr(torch, "xpu") and torch.xpu.is_available())
    return world > 1 and not has_gpu


def warn_if_single_cpu_launch() -> None:
    """``accelerate launch --cpu --num_processes N`` starts one process unless MPI is configured."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1 and os.environ.get("MASTER_PORT") and str(os.environ.get("ACCELERATE_USE_CPU", "")).lower() in (
        "1", "true", "yes"
    ):
        logger.warning(
            "`accelerate launch --cpu --num_processes N` starts a single process unless MPI is configured "
            "(--mpirun_hostfile); for N CPU processes use `accelerate launch --multi_gpu --num_processes N` "
            "(torchrun; on a machine without GPUs majl_hf then joins the CPU processes over gloo)"
        )


def make_plain_accelerator(**kwargs):
    """An ``accelerate.Accelerator`` that handles multi-process CPU launches (see above)."""
    from accelerate import Accelerator

    warn_if_single_cpu_launch()
    return Accelerator(cpu=use_cpu_processes(), **kwargs)


def setup_script_logging(quiet: bool) -> None:
    """What the training scripts do first: log INFO (WARNING with ``quiet``, which also silences
    the progress bars of transformers and datasets)."""
    logging.basicConfig(level=logging.WARNING if quiet else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if quiet:
        quiet_progress_bars()


def quiet_progress_bars() -> None:
    """Silence the progress bars of transformers (weights loading/saving) and datasets."""
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    except ImportError:
        pass
    try:
        import datasets

        datasets.disable_progress_bars()
    except ImportError:
        pass


__all__ = ["make_plain_accelerator", "quiet_progress_bars", "use_cpu_processes", "warn_if_single_cpu_launch"]
