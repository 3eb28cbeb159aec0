"""What decides a pretraining run's result (:class:`PretrainSettings`), the model presets, and the files a run writes."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from ..models.awd_lstm import awd_lstm_lm_config, awd_lstm_small_lm_config

__all__ = ["PretrainSettings", "PRESETS", "WEIGHTS", "ITOS", "CARD", "CKPT", "run_record"]

PRESETS = {"small": awd_lstm_small_lm_config, "full": awd_lstm_lm_config}
# In --out: the weights, the vocabulary, the model card; in --out/checkpoints: the checkpoint's name.
WEIGHTS, ITOS, CARD, CKPT = "lm.safetensors", "itos.json", "model_card.json", "checkpoint"


@dataclass
class PretrainSettings:
    """Everything that decides a pretraining run's result (stored in ``checkpoints/run.json``)."""

    preset: str = "small"
    epochs: int | None = None  # None: 1, or as many as --time-budget allows
    bs: int = 64
    bptt: int = 70
    lr: float = 5e-3
    moms: tuple[float, float] = (0.8, 0.7)
    div_factor: float = 10.0
    pct_start: float = 0.25
    wd: float = 0.1
    drop_mult: float = 0.2
    clip: float = 0.1
    alpha: float = 2.0
    beta: float = 1.0
    max_vocab: int = 60000
    min_freq: int = 3
    backwards: bool = False
    valid_pct: float = 0.1
    seed: int = 42
    precision: str = "auto"  # auto (GPU: bf16 if it has it, else fp16; CPU: bf16 if native, else fp32), fastest, bf16, fp16, fp32
    max_tokens: int | None = None
    time_budget: float | None = None  # minutes
    save_dtype: str = "fp32"  # fp16 halves the weights file
    init: str | None = None  # start from a pretrained LM: a folder (weights + itos) or "bundled"

    def __post_init__(self):
        self.moms = tuple(self.moms)
        if self.preset not in PRESETS:
            raise ValueError(f"preset must be one of {sorted(PRESETS)}, got {self.preset!r}")
        for name in ("bs", "bptt", "max_vocab"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{name} must be a positive int, got {v!r}")
        for name in ("epochs", "max_tokens"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 1):
                raise ValueError(f"{name} must be a positive int or None, got {v!r}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError(f"lr must be a positive number, got {self.lr!r}; e.g. 5e-3")
        if not 0 < self.valid_pct < 1:
            raise ValueError(f"valid_pct must be in (0, 1), got {self.valid_pct!r}; e.g. 0.1")
        if self.time_budget is not None and not self.time_budget > 0:
            raise ValueError(f"time_budget must be a positive number of minutes, got {self.time_budget!r}")
        if self.precision not in ("auto", "fastest", "bf16", "fp16", "fp32"):
            raise ValueError(f"precision must be auto, fastest, bf16, fp16 or fp32, got {self.precision!r}")
        if self.save_dtype not in ("fp32", "fp16", "bf16"):
            raise ValueError(f"save_dtype must be fp32, fp16 or bf16, got {self.save_dtype!r}")
        if self.init is not None and not isinstance(self.init, str):
            self.init = str(self.init)

    @property
    def config(self):
        return PRESETS[self.preset]


def run_record(out: str | Path) -> Path:
    """``out/checkpoints/run.json``: a run's settings and plan, which ``--resume`` continues."""
    return Path(out) / "checkpoints" / "run.json"
