"""ember.cpu against torch.cpu: device queries, no-op streams, and the deprecated amp aliases."""
from __future__ import annotations

import pytest
import torch

import ember


def test_device_queries_match_torch():
    for name in ("is_available", "is_initialized", "device_count", "current_device"):
        assert getattr(ember.cpu, name)() == getattr(torch.cpu, name)(), name
    for lib in (torch, ember):
        lib.cpu.synchronize()
        lib.cpu.set_device("cpu")
        s = lib.cpu.current_stream()
        with lib.cpu.stream(s):
            s.wait_stream(lib.cpu.Stream())
            assert lib.cpu.Event().query()
    for cls in ("Stream", "Event"):
        public = [n for n in dir(getattr(torch.cpu, cls)) if not n.startswith("_")]
        assert [n for n in dir(getattr(ember.cpu, cls)) if not n.startswith("_")] == public


def test_deprecated_amp_aliases_warn_and_autocast_like_torch():
    x = torch.randn(3, 4)
    w = torch.randn(5, 4)
    outs = []
    for lib in (torch, ember):
        with pytest.warns(FutureWarning, match=r"torch\.cpu\.amp\.autocast\(args\.\.\.\)"):
            ctx = lib.cpu.amp.autocast()
        with ctx:
            out = lib.nn.functional.linear(lib.tensor(x.numpy()), lib.tensor(w.numpy()))
        outs.append(out)
        with pytest.warns(FutureWarning, match=r"torch\.cpu\.amp\.GradScaler\(args\.\.\.\)"):
            scaler = lib.cpu.amp.GradScaler(init_scale=8.0)
        assert scaler.get_scale() == 8.0 and scaler.is_enabled()
    assert str(outs[0].dtype) == str(outs[1].dtype) == "torch.bfloat16"
    assert outs[1].float().tolist() == outs[0].float().tolist()
