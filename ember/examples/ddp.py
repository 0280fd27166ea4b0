"""DistributedDataParallel: several processes, each training a replica on its own shard.

Every rank (process) builds the same model; `DistributedDataParallel` broadcasts rank
0's weights at the start and, during each backward, averages the gradients across
ranks with all-reduce, so after every optimizer step all replicas hold the same
weights. A `DistributedSampler` gives each rank a different part of the training set
each epoch (`set_epoch` reshuffles). Each rank prints its own loss on its own shard;
after every epoch the ranks compare their parameters, and the program fails if any
replica has drifted. The backend is MPI (mpi4py): "gloo" and "nccl" map onto it.

Run:    python -m ember.distributed.run --nproc-per-node 2 -m ember.examples.ddp
        python -m ember.distributed.run --nproc-per-node 2 -m ember.examples.ddp --quick
        python -m ember.examples.ddp      (one process: a world of size 1)
"""
from __future__ import annotations

import argparse
import time

import ember as torch
import ember.distributed as dist
from ember import nn
from ember.examples.digits import DigitsCNN, evaluate, train_test_split
from ember.nn.parallel import DistributedDataParallel as DDP
from ember.utils.data import DataLoader, DistributedSampler, TensorDataset


def replicas_identical(model: nn.Module) -> bool:
    """Whether every rank holds exactly the same parameters as this one."""
    flat = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
    gathered = [torch.empty_like(flat) for _ in range(dist.get_world_size())]
    dist.all_gather(gathered, flat)
    return all(torch.equal(other, gathered[0]) for other in gathered)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m ember.examples.ddp",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=32, help="per rank")
    parser.add_argument("--lr", type=float, default=5e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true",
                        help="256 images, a narrow model and 2 epochs, for smoke tests")
    args = parser.parse_args(argv)

    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    # a different seed on every rank, so the replicas start different: DDP's initial
    # broadcast from rank 0 is what makes them equal
    torch.manual_seed(args.seed + rank)
    x_train, y_train, x_test, y_test = train_test_split()
    width = 32
    if args.quick:
        x_train, y_train, width, args.epochs = x_train[:256], y_train[:256], 8, 2
    dataset = TensorDataset(x_train, y_train)
    sampler = DistributedSampler(dataset, num_replicas=world, rank=rank, shuffle=True,
                                 seed=args.seed)
    loader = DataLoader(dataset, batch_size=args.batch_size, sampler=sampler)
    if rank == 0:
        print(f"digits: {len(dataset)} training images over {world} ranks, "
              f"{len(sampler)} per rank per epoch", flush=True)

    model = DDP(DigitsCNN(width))
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    loss_fn = nn.CrossEntropyLoss()

    losses = []  # this rank's mean loss per epoch, on its own shard
    start = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        sampler.set_epoch(epoch)
        shards = [None] * world
        dist.all_gather_object(shards, list(sampler))
        if {i for shard in shards for i in shard} != set(range(len(dataset))):
            raise RuntimeError(f"epoch {epoch}: the ranks' shards do not cover the dataset")
        total, seen = 0.0, 0
        for xb, yb in loader:
            loss = loss_fn(model(xb), yb)
            optimizer.zero_grad()
            loss.backward()  # gradients are averaged over the ranks here
            optimizer.step()
            total += loss.item() * len(yb)
            seen += len(yb)
        losses.append(total / seen)
        same = replicas_identical(model)
        print(f"[rank {rank}] epoch {epoch}  loss {losses[-1]:.4f} on {seen} images  "
              f"replicas identical: {same}  ({time.perf_counter() - start:.1f} s)", flush=True)
        if not same:
            raise RuntimeError(f"rank {rank}: the replicas drifted apart in epoch {epoch}")

    test_acc = evaluate(model.module, x_test, y_test)
    if rank == 0:
        print(f"final test accuracy: {100 * test_acc:.1f} % (the same model on every rank)",
              flush=True)
    dist.destroy_process_group()
    return {"rank": rank, "world_size": world, "losses": losses, "test_acc": test_acc}


if __name__ == "__main__":
    main()
