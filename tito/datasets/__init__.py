"""tito's data layer: the real datasets (downloaded, checked, cached, or read
from a copy the user names) and small generated ones for tests and demos.

    load_cifar10(data_dir=None) -> ImageSet      uint8 (N, 3, 32, 32), int64 labels
    load_shapes(n_train, n_test, seed) -> ImageSet
    load_text(name, data_dir=None) -> str        "tinyshakespeare" or "tiny"
    status(data_dir=None) -> [(name, present, path, size_bytes)]
"""

from tito.datasets.cifar import load_cifar10
from tito.datasets.imageset import ImageSet
from tito.datasets.store import Status, status
from tito.datasets.synthetic import load_shapes
from tito.datasets.text import load_text

__all__ = ["ImageSet", "Status", "load_cifar10", "load_shapes", "load_text", "status"]
