"""Train the default x² experiment with Keras 3 on TensorFlow and print one JSON line.

usage: python keras_x2.py [--seed N]
"""

import os
import time

# Keep TensorFlow's C++ start-up messages off stderr. Errors still show.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

import experiment  # noqa: E402


def main():
    seed = experiment.parse_seed("Train Dense(30, relu) -> Dense(1) on y = x² with Keras.")
    keras.utils.set_random_seed(seed)

    # Keras' defaults are the experiment's: glorot_uniform kernels and zero biases.
    model = keras.Sequential(
        [
            keras.Input(shape=(1,)),
            keras.layers.Dense(experiment.HIDDEN_UNITS, activation="relu"),
            keras.layers.Dense(1),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=experiment.LEARNING_RATE),
        loss="mean_squared_error",
    )

    x, y = experiment.training_data()
    started = time.perf_counter()
    # With NumPy inputs, fit shuffles every epoch and also trains the last partial batch.
    model.fit(
        x,
        y,
        epochs=experiment.EPOCHS,
        batch_size=experiment.BATCH_SIZE,
        shuffle=True,
        verbose=0,
    )
    fit_seconds = time.perf_counter() - started

    predictions = model.predict(experiment.test_inputs(), batch_size=1024, verbose=0)
    experiment.print_result(
        "keras",
        f"{keras.__version__} (tensorflow {tf.__version__})",
        seed,
        fit_seconds,
        predictions,
    )


if __name__ == "__main__":
    main()
