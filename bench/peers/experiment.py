"""Data, settings and metrics of the default x² experiment, shared by the peer scripts.

Each peer script runs in its own virtual environment, so this module needs only
numpy and the standard library.
"""

import argparse
import json

import numpy as np

HIDDEN_UNITS = 30
LEARNING_RATE = 0.01
EPOCHS = 40
BATCH_SIZE = 32
TRAIN_POINTS = 10_000
TRAIN_RANGE = (-1.0, 1.0)
TEST_POINTS = 10_000
TEST_RANGE = (-2.0, 2.0)


def parse_seed(description):
    """Parse the command line of a peer script and return its --seed value."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed for the weight initialization and the shuffling (default: 0)",
    )
    return parser.parse_args().seed


def training_data():
    """Return the training inputs and targets as float32 arrays of shape (TRAIN_POINTS, 1)."""
    x = np.linspace(*TRAIN_RANGE, TRAIN_POINTS, dtype=np.float32).reshape(-1, 1)
    return x, x**2


def test_inputs():
    """Return the test inputs as a float32 array of shape (TEST_POINTS, 1)."""
    return np.linspace(*TEST_RANGE, TEST_POINTS, dtype=np.float32).reshape(-1, 1)


def range_mse(x, predictions):
    """Return the MSE against x² inside the training range (bounds included) and outside it.

    The errors are summed in float64, from the float32 inputs and predictions.
    """
    x = np.asarray(x, dtype=np.float32).reshape(-1)
    truth = (x**2).astype(np.float64)
    squared = (np.asarray(predictions, dtype=np.float64).reshape(-1) - truth) ** 2

    inside = (x >= TRAIN_RANGE[0]) & (x <= TRAIN_RANGE[1])
    return float(squared[inside].mean()), float(squared[~inside].mean())


def print_result(framework, version, seed, fit_seconds, predictions, **extra):
    """Print the one JSON line that run.sh collects from each peer script."""
    mse_in_range, mse_out_of_range = range_mse(test_inputs(), predictions)
    result = {
        "framework": framework,
        "version": version,
        "seed": seed,
        "fit_seconds": fit_seconds,
        **extra,
        "mse_in_range": mse_in_range,
        "mse_out_of_range": mse_out_of_range,
    }
    print(json.dumps(result), flush=True)
