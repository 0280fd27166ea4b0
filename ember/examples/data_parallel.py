"""nn.DataParallel: one process splits every batch over several devices.

Each forward scatters the batch along dimension 0, copies the module to every device,
runs the copies in threads and gathers their outputs on the first device; backward
sends the gradients back through the same steps into the original parameters, so the
optimizer sees one model. With GPUs it uses all of them, like torch; without, ember
accepts CPU devices (`device_ids=["cpu", "cpu"]`), so the same program runs and can
be stepped through on a laptop. As in PyTorch's tutorial, the model prints the size
of the piece it receives on the first batch, and the loop prints the whole batch's.

Run:    python -m ember.examples.data_parallel
        python -m ember.examples.data_parallel --replicas 4
        python -m ember.examples.data_parallel --quick    (for smoke tests)
"""
from __future__ import annotations

import argparse
import time

import ember as torch
from ember import nn
from ember.examples.digits import DigitsCNN, evaluate, train_test_split
from ember.utils.data import DataLoader, TensorDataset


class ReportingCNN(DigitsCNN):
    """DigitsCNN that says what each replica receives while `verbose` is on."""

    verbose = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = super().forward(x)
        if self.verbose:
            print(f"  in the model: input {tuple(x.shape)} on {x.device}, "
                  f"output {tuple(out.shape)}")
        return out


def default_devices(replicas: int) -> list:
    """All GPUs when there are any, else `replicas` CPU devices."""
    if torch.cuda.is_available():
        return list(range(torch.cuda.device_count()))
    return ["cpu"] * replicas


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m ember.examples.data_parallel",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--replicas", type=int, default=2,
                        help="CPU replicas when there is no GPU")
    parser.add_argument("--lr", type=float, default=5e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true",
                        help="256 images, a narrow model and one epoch, for smoke tests")
    args = parser.parse_args(argv)

    torch.manual_seed(args.seed)
    x_train, y_train, x_test, y_test = train_test_split()
    width = 32
    if args.quick:
        x_train, y_train, width, args.epochs = x_train[:256], y_train[:256], 8, 2
    device_ids = default_devices(args.replicas)
    device = torch.device("cuda", device_ids[0]) if torch.cuda.is_available() else "cpu"
    print(f"digits: {len(y_train)} training images; DataParallel over {device_ids}")

    model = ReportingCNN(width).to(device)
    dp_model = nn.DataParallel(model, device_ids=device_ids)
    optimizer = torch.optim.Adam(dp_model.parameters(), lr=args.lr)
    loss_fn = nn.CrossEntropyLoss()
    loader = DataLoader(TensorDataset(x_train, y_train), batch_size=args.batch_size,
                        shuffle=True)

    losses = []  # mean training loss per epoch
    start = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        total, seen = 0.0, 0
        for step, (xb, yb) in enumerate(loader):
            xb, yb = xb.to(device), yb.to(device)
            ReportingCNN.verbose = epoch == 1 and step == 0
            out = dp_model(xb)
            if ReportingCNN.verbose:
                print(f"outside: input {tuple(xb.shape)}, output {tuple(out.shape)}")
                ReportingCNN.verbose = False
            loss = loss_fn(out, yb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(yb)
            seen += len(yb)
        losses.append(total / seen)
        print(f"epoch {epoch}  loss {losses[-1]:.4f}  test acc "
              f"{evaluate(dp_model, x_test.to(device), y_test.to(device)):.3f}  "
              f"({time.perf_counter() - start:.1f} s)")

    test_acc = evaluate(dp_model, x_test.to(device), y_test.to(device))
    print(f"final test accuracy: {100 * test_acc:.1f} %")
    # the wrapper's state_dict keys carry a `module.` prefix; save the inner model's
    print(f"state_dict keys: {list(dp_model.state_dict())[:2]} ... "
          f"(save dp_model.module.state_dict() to load without DataParallel)")
    return {"losses": losses, "test_acc": test_acc, "model": dp_model}


if __name__ == "__main__":
    main()
