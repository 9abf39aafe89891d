"""The inference worker from issue #12: setup() imports torch (CPU) and builds a small MLP."""

from snakepit_bridge import tool

model = None


def setup() -> None:
    global model
    import torch

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(64, 256), torch.nn.ReLU(), torch.nn.Linear(256, 8)).eval()


@tool
def infer(x: list) -> list:
    import torch

    with torch.no_grad():
        return model(torch.tensor([x], dtype=torch.float32))[0].tolist()
