"""Train the default x² experiment with a PyTorch eager loop and print one JSON line.

usage: python torch_x2.py [--seed N]
"""

import time

import torch
from torch import nn

import experiment


def build_model():
    """Build Dense(30, relu) -> Dense(1) with glorot_uniform kernels and zero biases."""
    model = nn.Sequential(
        nn.Linear(1, experiment.HIDDEN_UNITS),
        nn.ReLU(),
        nn.Linear(experiment.HIDDEN_UNITS, 1),
    )
    # nn.Linear's own default is Kaiming uniform, so set Keras' defaults explicitly.
    for layer in model:
        if isinstance(layer, nn.Linear):
            nn.init.xavier_uniform_(layer.weight)
            nn.init.zeros_(layer.bias)
    return model


def fit(model, x, y, generator):
    """Train with plain SGD, reshuffling each epoch.

    The last slice of each epoch contains the remaining rows (16 of 10,000 at batch
    size 32) and is trained as a batch of its own, as Keras does.
    """
    optimizer = torch.optim.SGD(model.parameters(), lr=experiment.LEARNING_RATE)
    loss_fn = nn.MSELoss()
    rows = x.shape[0]

    for _ in range(experiment.EPOCHS):
        order = torch.randperm(rows, generator=generator)
        for start in range(0, rows, experiment.BATCH_SIZE):
            batch = order[start : start + experiment.BATCH_SIZE]
            optimizer.zero_grad()
            loss = loss_fn(model(x[batch]), y[batch])
            loss.backward()
            optimizer.step()


def main():
    seed = experiment.parse_seed("Train Dense(30, relu) -> Dense(1) on y = x² with PyTorch.")
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)

    model = build_model()
    x, y = (torch.from_numpy(array) for array in experiment.training_data())

    started = time.perf_counter()
    fit(model, x, y, generator)
    fit_seconds = time.perf_counter() - started

    with torch.no_grad():
        predictions = model(torch.from_numpy(experiment.test_inputs())).numpy()
    experiment.print_result("torch", torch.__version__, seed, fit_seconds, predictions)


if __name__ == "__main__":
    main()
