"""Train the default x² experiment with JAX, the whole loop in one jit, and print one JSON line.

usage: python jax_x2.py [--seed N]

The line has two times: fit_seconds is the first call of the compiled training
function, including tracing and XLA compilation, and fit_seconds_compiled is a
second call with the same arguments, which runs the compiled code only.
"""

import time

import jax
import jax.numpy as jnp

import experiment


def init_params(key):
    """Return Dense(30, relu) -> Dense(1) parameters: glorot_uniform kernels, zero biases."""
    hidden_key, output_key = jax.random.split(key)
    glorot_uniform = jax.nn.initializers.glorot_uniform()
    units = experiment.HIDDEN_UNITS
    return {
        "hidden": {"kernel": glorot_uniform(hidden_key, (1, units)), "bias": jnp.zeros(units)},
        "output": {"kernel": glorot_uniform(output_key, (units, 1)), "bias": jnp.zeros(1)},
    }


def predict(params, x):
    hidden = jax.nn.relu(x @ params["hidden"]["kernel"] + params["hidden"]["bias"])
    return hidden @ params["output"]["kernel"] + params["output"]["bias"]


def mse_loss(params, x, y):
    return jnp.mean((predict(params, x) - y) ** 2)


def sgd_step(params, x, y):
    gradients = jax.grad(mse_loss)(params, x, y)
    return jax.tree.map(lambda param, gradient: param - experiment.LEARNING_RATE * gradient, params, gradients)


@jax.jit
def fit(params, x, y, key):
    """Train with plain SGD for all epochs, reshuffling each epoch, and return the parameters.

    lax.scan needs batches of one shape, so each epoch scans over the full batches
    and then takes one more step on the remaining rows (16 of 10,000 at batch size
    32). That step has its own static shape, so its loss is the mean over exactly
    those rows, as in Keras.
    """
    rows = x.shape[0]
    full_batches = rows // experiment.BATCH_SIZE
    full_rows = full_batches * experiment.BATCH_SIZE

    def train_batch(params, batch):
        return sgd_step(params, x[batch], y[batch]), None

    def train_epoch(params, epoch_key):
        order = jax.random.permutation(epoch_key, rows)
        batches = order[:full_rows].reshape(full_batches, experiment.BATCH_SIZE)
        params, _ = jax.lax.scan(train_batch, params, batches)

        remainder = order[full_rows:]
        if remainder.shape[0] > 0:
            params = sgd_step(params, x[remainder], y[remainder])
        return params, None

    epoch_keys = jax.random.split(key, experiment.EPOCHS)
    params, _ = jax.lax.scan(train_epoch, params, epoch_keys)
    return params


def time_fit(params, x, y, key):
    """Return the trained parameters and the wall time of one fit call, in seconds."""
    started = time.perf_counter()
    trained = jax.block_until_ready(fit(params, x, y, key))
    return trained, time.perf_counter() - started


def main():
    seed = experiment.parse_seed("Train Dense(30, relu) -> Dense(1) on y = x² with JAX.")
    init_key, shuffle_key = jax.random.split(jax.random.key(seed))
    params = init_params(init_key)
    x, y = (jnp.asarray(array) for array in experiment.training_data())

    trained, fit_seconds = time_fit(params, x, y, shuffle_key)
    _, fit_seconds_compiled = time_fit(params, x, y, shuffle_key)

    predictions = predict(trained, jnp.asarray(experiment.test_inputs()))
    experiment.print_result(
        "jax",
        f"{jax.__version__} (jaxlib {jax.lib.__version__})",
        seed,
        fit_seconds,
        predictions,
        fit_seconds_compiled=fit_seconds_compiled,
    )


if __name__ == "__main__":
    main()
