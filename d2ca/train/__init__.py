"""Training: the objective, the trainer, samplers, checkpoints, baselines and model cards."""

from d2ca.train.card import model_card
from d2ca.train.config import METHODS, TrainConfig
from d2ca.train.trainer import Trainer, TrainingDivergedError, train

__all__ = ["METHODS", "TrainConfig", "Trainer", "TrainingDivergedError", "model_card", "train"]
