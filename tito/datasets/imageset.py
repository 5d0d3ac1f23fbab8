"""A labelled image set split into train and test: what the image loaders return."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class ImageSet:
    """uint8 images (N, 3, H, W) and int64 labels (N,), plus the class names."""

    train_x: np.ndarray  # (N, 3, H, W) uint8
    train_y: np.ndarray  # (N,) int64
    test_x: np.ndarray  # (M, 3, H, W) uint8
    test_y: np.ndarray  # (M,) int64
    classes: list[str]
    source: str = ""  # where it came from, for results files and messages

    def __repr__(self) -> str:
        return (
            f"ImageSet(train={self.train_x.shape}, test={self.test_x.shape}, "
            f"classes={len(self.classes)}, source={self.source!r})"
        )
