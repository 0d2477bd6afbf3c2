"""Small simulated data sets and tiny models shared by the model tests (no tests here).

Data are generated once per test session into a temporary cache (the real simulation
path, a few short scenarios) and reused by every test that asks for the same spec.
"""

from __future__ import annotations

import functools
import tempfile

from wdp.inference.datasets import load_dataset
from wdp.inference.features import FeatureSpec
from wdp.inference.training import TrainConfig, train

_CACHE = tempfile.mkdtemp(prefix="wdp-test-data-")


@functools.cache
def dataset(text: str):
    spec = parse(text)
    return load_dataset(
        text, FeatureSpec.for_profile(spec.profile), cache_dir=_CACHE, progress=False
    )


def parse(text: str):
    from wdp.inference.datasets import parse_data_spec

    return parse_data_spec(text)


@functools.cache
def tiny_model(text: str, seed: int = 0, epochs: int = 20, hidden: tuple = (32,)):
    return train(
        dataset(text),
        TrainConfig(seed=seed, epochs=epochs, hidden=hidden, batch_size=64),
        progress=False,
    )
