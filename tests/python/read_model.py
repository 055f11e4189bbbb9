"""Print every tensor and the metadata of a safetensors file as JSON, read with the
safetensors package from PyPI."""

import json
import sys

from safetensors import safe_open

with safe_open(sys.argv[1], framework="numpy") as file:
    tensors = {
        name: {"shape": list(file.get_tensor(name).shape), "values": file.get_tensor(name).ravel().tolist()}
        for name in file.keys()
    }
    print(json.dumps({"tensors": tensors, "metadata": file.metadata()}))
