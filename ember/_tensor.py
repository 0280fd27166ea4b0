"""Tensor: one backend array (NumPy or CuPy) plus autograd metadata.

The arithmetic lives in `ember/_ops/` (one family per file); every Tensor method
below is a one-line, explicit delegation so "go to definition" lands on the op.
"""
from __future__ import annotations

import weakref

import numpy as np

from ember import _dtype as _dt
from ember._device import CPU, device_of

__all__ = ["Tensor"]

_new = object.__new__
_ndarray = np.ndarray
_generic = np.generic


def _make(array, requires_grad: bool = False) -> Tensor:
    """Wrap a backend array as a Tensor without copying (0-dim NumPy scalars become arrays)."""
    if array.__class__ is not _ndarray and isinstance(array, _generic):
        array = np.asarray(array)
    t = _new(Tensor)
    t._data = array
    t._version_counter = [0]
    t._requires_grad = requires_grad
    t.grad_fn = None
    if _state.inference:
        t._is_inference = True
    return t


class Tensor:
    """A multi-dimensional array that can record the operations applied to it."""

    __slots__ = ("_data", "_version_counter", "_requires_grad", "grad_fn", "__dict__",
                 "__weakref__")
    # Per-tensor state most tensors never set: class defaults, overridden per instance
    # (keeping these out of __slots__ makes creating a tensor cheaper).
    _grad = None  # .grad
    _output_nr = 0  # which output of grad_fn this tensor is
    _base = None  # for views: the tensor whose memory this one shares (never itself a view)
    _view_func = None  # for views: base -> this view, in ember ops (used by in-place on views)
    _acc_node = None  # this leaf's AccumulateGrad node (it refers back to us weakly)
    _backward_hooks = None  # {id: hook} registered on a leaf with register_hook
    _post_acc_hooks = None  # {id: hook} run after .grad is updated
    _is_inference = False
    _is_param = False

    def __init__(self, *args, device=None):
        # torch.Tensor(...) legacy constructor: sizes give an uninitialised float tensor,
        # a sequence gives its values as the default dtype, nothing gives tensor([]).
        if len(args) == 1 and not isinstance(args[0], int):
            data = _cr.tensor(args[0], dtype=_dt.get_default_dtype(), device=device)._data
        else:
            data = _cr.empty(*(args or (0,)), device=device)._data
        self._data = data
        self._requires_grad = False
        self.grad_fn = None
        self._version_counter = [0]

    # ----------------------------------------------------------------- metadata
    @property
    def dtype(self) -> _dt.dtype:
        return _dt._FROM_NP[self._data.dtype]

    @property
    def device(self):
        return CPU if isinstance(self._data, _ndarray) else device_of(self._data)

    @property
    def is_cuda(self) -> bool:
        return not isinstance(self._data, _ndarray)

    @property
    def is_cpu(self) -> bool:
        return isinstance(self._data, _ndarray)

    @property
    def shape(self):
        from ember import Size
        return Size(self._data.shape)

    def size(self, dim: int | None = None):
        if dim is None:
            return self.shape
        return self._data.shape[_sh._wrap_dim(dim, self._data.ndim)]

    def dim(self) -> int:
        return self._data.ndim

    def ndimension(self) -> int:
        return self._data.ndim

    @property
    def ndim(self) -> int:
        return self._data.ndim

    def numel(self) -> int:
        return self._data.size

    def nelement(self) -> int:
        return self._data.size

    def element_size(self) -> int:
        return self._data.itemsize

    @property
    def itemsize(self) -> int:
        return self._data.itemsize

    @property
    def nbytes(self) -> int:
        return self._data.nbytes

    def is_floating_point(self) -> bool:
        return self.dtype.is_floating_point

    def is_complex(self) -> bool:
        return False

    def is_signed(self) -> bool:
        return self.dtype.is_signed

    def is_inference(self) -> bool:
        return self._is_inference

    def stride(self, dim: int | None = None):
        return _sh.stride(self, dim)

    def storage_offset(self) -> int:
        return _sh.storage_offset(self)

    def is_contiguous(self, memory_format=None) -> bool:
        return _sh.is_contiguous(self)

    def data_ptr(self) -> int:
        return _sh.data_ptr(self)

    def type(self, dtype=None, non_blocking: bool = False):
        """Without arguments, torch's type string ('torch.FloatTensor'); else a cast."""
        if dtype is None:
            return _cr.type_string(self)
        return _pw.to_dtype(self, _cr.parse_type(dtype))

    @property
    def _version(self) -> int:
        if self._is_inference:
            raise RuntimeError("Inference tensors do not track version counter.")
        return self._version_counter[0]

    # ----------------------------------------------------------------- autograd state
    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        if value.__class__ is not bool:
            raise RuntimeError("requires_grad must be a bool")
        if value and not self.dtype.is_floating_point:
            raise RuntimeError("only Tensors of floating point and complex dtype can require "
                               "gradients")
        self.requires_grad_(value)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        if self.grad_fn is not None and not requires_grad:
            raise RuntimeError("you can only change requires_grad flags of leaf variables. If "
                               "you want to use a computed variable in a subgraph that doesn't "
                               "require differentiation use var_no_grad = var.detach().")
        if requires_grad and not self.dtype.is_floating_point:
            raise RuntimeError("only Tensors of floating point dtype can require gradients")
        if requires_grad and self._is_inference and not _state.inference:
            raise RuntimeError("Setting requires_grad=True on inference tensor outside "
                               "InferenceMode is not allowed.")
        self._requires_grad = bool(requires_grad)
        return self

    @property
    def grad(self):
        g = self._grad
        if g is None and self.grad_fn is not None and not self.retains_grad:
            _warn_non_leaf_grad()
        return g

    @grad.setter
    def grad(self, value) -> None:
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(f"assigned grad expected to be a Tensor or None but got grad "
                                f"of type {type(value).__name__}")
            if value._data.shape != self._data.shape:
                raise RuntimeError(f"attempting to assign a gradient of size "
                                   f"'{list(value._data.shape)}' to a tensor of size "
                                   f"'{list(self._data.shape)}'. Please ensure that the "
                                   "gradient and the tensor are the same size")
            if value.dtype is not self.dtype:
                raise RuntimeError(_grad_dtype_message(value.dtype, self.dtype))
        self._grad = value

    @grad.deleter
    def grad(self) -> None:
        self._grad = None

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    @property
    def retains_grad(self) -> bool:
        node = self.grad_fn
        return bool(node is not None and node._retain_grad and self._output_nr in node._retain_grad)

    @property
    def data(self) -> Tensor:
        """The same memory without autograd history or a shared version counter
        (assigning replaces the array)."""
        return _make(self._data)

    @data.setter
    def data(self, value: Tensor) -> None:
        self._data = value._data

    @property
    def output_nr(self) -> int:
        return self._output_nr

    def _grad_accumulator(self):
        """This leaf's AccumulateGrad node, created once and kept for the leaf's lifetime.

        The node holds the leaf only weakly, so there is no reference cycle: a leaf
        that is no longer referenced frees at once, node included.
        """
        node = self._acc_node
        if node is None:
            from ember.autograd.function import AccumulateGrad
            node = self._acc_node = AccumulateGrad(self)
        return node

    def retain_grad(self) -> None:
        """Keep .grad for this non-leaf tensor after backward."""
        if self.grad_fn is None:
            if not self._requires_grad:
                raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
            return
        node = self.grad_fn
        if not node._retain_grad:
            node._retain_grad = {}
        node._retain_grad[self._output_nr] = weakref.ref(self)

    def register_hook(self, hook):
        """hook(grad) runs when this tensor's gradient is computed; may return a new grad."""
        from ember.utils.hooks import RemovableHandle
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self.grad_fn is None:
            if self._backward_hooks is None:
                self._backward_hooks = {}
            hooks = self._backward_hooks
        else:
            node = self.grad_fn
            if node._tensor_hooks is None:
                node._tensor_hooks = {}
            hooks = node._tensor_hooks.setdefault(self._output_nr, {})
        handle = RemovableHandle(hooks)
        hooks[handle.id] = hook
        return handle

    def register_post_accumulate_grad_hook(self, hook):
        """hook(tensor) runs after a leaf's .grad has been accumulated."""
        from ember.utils.hooks import RemovableHandle
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self.grad_fn is not None:
            raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf "
                               "tensors")
        if self._post_acc_hooks is None:
            self._post_acc_hooks = {}
        handle = RemovableHandle(self._post_acc_hooks)
        self._post_acc_hooks[handle.id] = hook
        return handle

    def backward(self, gradient=None, retain_graph=None, create_graph: bool = False,
                 inputs=None) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's .grad (see autograd.backward)."""
        from ember.autograd import backward
        backward(self, gradient, retain_graph, create_graph, inputs=inputs)

    def detach(self) -> Tensor:
        """The same memory and version counter, cut from the graph."""
        t = _make(self._data)
        t._version_counter = self._version_counter
        return t

    def detach_(self) -> Tensor:
        if self._base is not None and self._base._requires_grad:
            raise RuntimeError(
                "Can't detach views in-place. Use detach() instead. If you are using "
                "DistributedDataParallel (DDP) for training, and gradient_as_bucket_view is set "
                "as True, gradients are views of DDP buckets, and hence detach_() cannot be "
                "called on these gradients. To fix this error, please refer to the "
                "Optimizer.zero_grad() function in torch/optim/optimizer.py as the solution.")
        self.grad_fn = None
        self._requires_grad = False
        return self

    # ----------------------------------------------------------------- conversions
    def numpy(self, *, force: bool = False) -> np.ndarray:
        """The NumPy array itself (memory is shared), as torch's .numpy()."""
        if self._requires_grad and not force:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use "
                               "tensor.detach().numpy() instead.")
        if not isinstance(self._data, _ndarray):
            if not force:
                raise TypeError(f"can't convert {self.device} device type tensor to numpy. Use "
                                "Tensor.cpu() to copy the tensor to host memory first.")
            return self._data.get()
        return self._data

    def __array__(self, dtype=None, copy=None):
        arr = self.detach().numpy(force=True)
        return arr if dtype is None else arr.astype(dtype, copy=False)

    # NumPy binary operators defer to the tensor (np_array * tensor -> Tensor.__rmul__)
    __array_priority__ = 1000

    def __dlpack__(self, *, stream=None, max_version=None, dl_device=None, copy=None):
        from ember.utils import dlpack
        return dlpack.tensor_dlpack(self, stream, max_version, dl_device, copy)

    def __dlpack_device__(self) -> tuple:
        from ember.utils import dlpack
        return dlpack.tensor_dlpack_device(self)

    def item(self):
        if self._data.size != 1:
            raise RuntimeError(f"a Tensor with {self._data.size} elements cannot be converted "
                               "to Scalar")
        return self._data.item() if self.dtype is not _dt.bfloat16 else float(self._data.item())

    def tolist(self):
        if self.dtype is _dt.bfloat16:
            return self._data.astype(np.float32).tolist()
        return self._data.tolist() if isinstance(self._data, _ndarray) else self._data.get().tolist()

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self.dtype.is_floating_point or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an "
                            "index")
        return int(self._data.item())

    def __bool__(self) -> bool:
        if self._data.size != 1:
            raise RuntimeError(f"Boolean value of Tensor with "
                               f"{'no values' if self._data.size == 0 else 'more than one value'}"
                               " is ambiguous")
        return bool(self._data.item())

    def __complex__(self) -> complex:
        return complex(self.item())

    def __len__(self) -> int:
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self):
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return iter(self.unbind(0))

    def __contains__(self, element) -> bool:
        return bool((self == element).any())

    # Hash by identity, as torch does (== is elementwise). object's C-level hash keeps
    # dict lookups keyed by tensors (optimizer state, hooks) fast.
    __hash__ = object.__hash__

    def __repr__(self, *, tensor_contents=None) -> str:
        from ember._tensor_str import _str
        return _str(self, tensor_contents=tensor_contents)

    def __format__(self, format_spec: str) -> str:
        if self._data.ndim == 0 and type(self) is Tensor:  # torch: not for Parameter
            return self.item().__format__(format_spec)
        return object.__format__(self, format_spec)

    def __reduce_ex__(self, protocol):
        from ember._ops.creation import _rebuild_tensor
        return (_rebuild_tensor, (self.detach().numpy(force=True), self._requires_grad))

    def __deepcopy__(self, memo):
        if self.grad_fn is not None:
            raise RuntimeError("Only Tensors created explicitly by the user (graph leaves) "
                               "support the deepcopy protocol at the moment.")
        if id(self) in memo:
            return memo[id(self)]
        new = type(self).__new__(type(self))
        new._data = self._data.copy()
        new._requires_grad = self._requires_grad
        new.grad_fn = None
        new._version_counter = [0]
        import copy
        memo[id(self)] = new
        for k, v in self.__dict__.items():
            if k not in ("_acc_node", "_base", "_view_func", "_backward_hooks",
                         "_post_acc_hooks"):
                new.__dict__[k] = copy.deepcopy(v, memo)
        return new

    def to(self, *args, **kwargs) -> Tensor:
        """Cast and/or move: to(dtype), to(device, dtype), to(other), copy=, non_blocking=."""
        return _pw.to(self, *args, **kwargs)

    def cpu(self, memory_format=None) -> Tensor:
        return _pw.to(self, "cpu")

    def cuda(self, device=None, non_blocking: bool = False, memory_format=None) -> Tensor:
        from ember._device import device as _device
        dev = _device("cuda", device) if isinstance(device, int) else (device or "cuda")
        return _pw.to(self, dev, non_blocking=non_blocking)

    def float(self, memory_format=None) -> Tensor:
        return _pw.to_dtype(self, _dt.float32)

    def double(self, memory_format=None) -> Tensor:
        return _pw.to_dtype(self, _dt.float64)

    def half(self, memory_format=None) -> Tensor:
        return _pw.to_dtype(self, _dt.float16)

    def bfloat16(self, memory_format=None) -> Tensor:
        return _pw.to_dtype(self, _dt.bfloat16)

    def long(self, memory_format=None) -> Tensor:
        return _pw.to_dtype(self, _dt.int64)

    def int(self, memory_format=None) -> Tensor:
        return _pw.to_dtype(self, _dt.int32)

    def short(self, memory_format=None) -> Tensor:
        return _pw.to_dtype(self, _dt.int16)

    def char(self, memory_format=None) -> Tensor:
        return _pw.to_dtype(self, _dt.int8)

    def byte(self, memory_format=None) -> Tensor:
        return _pw.to_dtype(self, _dt.uint8)

    def bool(self, memory_format=None) -> Tensor:
        return _pw.to_dtype(self, _dt.bool)

    def type_as(self, other: Tensor) -> Tensor:
        return _pw.to_dtype(self, other.dtype)

    def clone(self, *, memory_format=None) -> Tensor:
        return _pw.clone(self)

    def contiguous(self, memory_format=None) -> Tensor:
        return _sh.contiguous(self)

    def pin_memory(self, device=None) -> Tensor:
        return _cr.pin_memory(self)

    def is_pinned(self, device=None) -> bool:
        return _cr.is_pinned(self)

    def share_memory_(self) -> Tensor:
        """Move this CPU tensor's memory into shared memory, in place (see ember/_shared.py).

        The same Tensor keeps its values, dtype, shape, strides, autograd state and version;
        processes forked afterwards write into the same memory (Hogwild training). A view
        moves its base's whole memory, as torch moves the storage. A no-op when already
        shared and on CUDA. Unlike torch, views and detach()es taken *before* the move keep
        the old private memory.
        """
        from ember import _shared
        data = self._data
        if not isinstance(data, _ndarray) or _shared.is_shared_array(data):
            return self
        base = self._base
        if base is None:
            (self._data,) = _shared.move([data])
        else:
            base._data, self._data = _shared.move([base._data, data])
        return self

    def is_shared(self) -> bool:
        """Whether the memory is shared across processes: after share_memory_() (views
        included), and always for CUDA tensors, as in torch."""
        from ember import _shared
        data = self._data
        return not isinstance(data, _ndarray) or _shared.is_shared_array(data)

    def new_tensor(self, data, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
        return _cr.tensor(data, dtype=dtype or self.dtype, device=device or self.device,
                          requires_grad=requires_grad)

    def new_zeros(self, *size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
        return _cr.zeros(*size, dtype=dtype or self.dtype, device=device or self.device,
                         requires_grad=requires_grad)

    def new_ones(self, *size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
        return _cr.ones(*size, dtype=dtype or self.dtype, device=device or self.device,
                        requires_grad=requires_grad)

    def new_full(self, size, fill_value, *, dtype=None, device=None,
                 requires_grad: bool = False) -> Tensor:
        return _cr.full(size, fill_value, dtype=dtype or self.dtype, device=device or self.device,
                        requires_grad=requires_grad)

    def new_empty(self, *size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
        return _cr.empty(*size, dtype=dtype or self.dtype, device=device or self.device,
                         requires_grad=requires_grad)

    # ----------------------------------------------------------------- arithmetic dunders
    def __add__(self, other): return _pw.Add.apply(self, other)
    def __radd__(self, other): return _pw.Add.apply(self, other)
    def __iadd__(self, other): return _pw.add_(self, other)
    def __sub__(self, other): return _pw.sub(self, other)
    def __rsub__(self, other): return _pw.rsub(self, other)
    def __isub__(self, other): return _pw.sub_(self, other)
    def __mul__(self, other): return _pw.Mul.apply(self, other)
    def __rmul__(self, other): return _pw.Mul.apply(self, other)
    def __imul__(self, other): return _pw.mul_(self, other)
    def __truediv__(self, other): return _pw.div(self, other)
    def __rtruediv__(self, other): return _pw.mul(_pw.reciprocal(self), other)
    def __itruediv__(self, other): return _pw.div_(self, other)
    def __floordiv__(self, other): return _pw.floor_divide(self, other)
    def __rfloordiv__(self, other): return _pw.floor_divide(_pw._scalar_tensor(other, self), self)
    def __ifloordiv__(self, other): return _pw.floor_divide_(self, other)
    def __mod__(self, other): return _pw.remainder(self, other)
    def __rmod__(self, other): return _pw.remainder(_pw._scalar_tensor(other, self), self)
    def __imod__(self, other): return _pw.remainder_(self, other)
    def __pow__(self, other): return _pw.pow(self, other)
    def __rpow__(self, other): return _pw.pow(other, self)
    def __ipow__(self, other): return _pw.pow_(self, other)
    def __matmul__(self, other): return _la.matmul(self, other)
    def __rmatmul__(self, other): return _la.matmul(other, self)
    def __neg__(self): return _pw.neg(self)
    def __pos__(self): return self
    def __abs__(self): return _pw.abs(self)
    def __invert__(self): return _pw._invert(self)
    def __and__(self, other): return _pw.bitwise_and(self, other)
    def __rand__(self, other): return _pw.bitwise_and(self, other)
    def __iand__(self, other): return _pw.bitwise_and_(self, other)
    def __or__(self, other): return _pw.bitwise_or(self, other)
    def __ror__(self, other): return _pw.bitwise_or(self, other)
    def __ior__(self, other): return _pw.bitwise_or_(self, other)
    def __xor__(self, other): return _pw.bitwise_xor(self, other)
    def __rxor__(self, other): return _pw.bitwise_xor(self, other)
    def __ixor__(self, other): return _pw.bitwise_xor_(self, other)
    def __lshift__(self, other): return _pw.bitwise_left_shift(self, other)
    def __rshift__(self, other): return _pw.bitwise_right_shift(self, other)
    def __eq__(self, other): return _pw.eq(self, other) if _pw._comparable(other) else NotImplemented
    def __ne__(self, other): return _pw.ne(self, other) if _pw._comparable(other) else NotImplemented
    def __lt__(self, other): return _pw.lt(self, other)
    def __le__(self, other): return _pw.le(self, other)
    def __gt__(self, other): return _pw.gt(self, other)
    def __ge__(self, other): return _pw.ge(self, other)
    def __getitem__(self, index): return _ix.getitem(self, index)
    def __setitem__(self, index, value): _ix.setitem(self, index, value)

    # ----------------------------------------------------------------- pointwise
    def add(self, other, *, alpha=1): return _pw.add(self, other, alpha=alpha)
    def add_(self, other, *, alpha=1): return _pw.add_(self, other, alpha=alpha)
    def sub(self, other, *, alpha=1): return _pw.sub(self, other, alpha=alpha)
    def sub_(self, other, *, alpha=1): return _pw.sub_(self, other, alpha=alpha)
    def subtract(self, other, *, alpha=1): return _pw.sub(self, other, alpha=alpha)
    def mul(self, other): return _pw.mul(self, other)
    def mul_(self, other): return _pw.mul_(self, other)
    def multiply(self, other): return _pw.mul(self, other)
    def div(self, other, *, rounding_mode=None): return _pw.div(self, other, rounding_mode=rounding_mode)
    def div_(self, other, *, rounding_mode=None): return _pw.div_(self, other, rounding_mode=rounding_mode)
    def divide(self, other, *, rounding_mode=None): return _pw.div(self, other, rounding_mode=rounding_mode)
    def true_divide(self, other): return _pw.div(self, other)
    def floor_divide(self, other): return _pw.floor_divide(self, other)
    def floor_divide_(self, other): return _pw.floor_divide_(self, other)
    def remainder(self, other): return _pw.remainder(self, other)
    def remainder_(self, other): return _pw.remainder_(self, other)
    def fmod(self, other): return _pw.fmod(self, other)
    def pow(self, exponent): return _pw.pow(self, exponent)
    def pow_(self, exponent): return _pw.pow_(self, exponent)
    def float_power(self, exponent): return _pw.float_power(self, exponent)
    def neg(self): return _pw.neg(self)
    def neg_(self): return _pw.neg_(self)
    def negative(self): return _pw.neg(self)
    def abs(self): return _pw.abs(self)
    def abs_(self): return _pw.abs_(self)
    def absolute(self): return _pw.abs(self)
    def sign(self): return _pw.sign(self)
    def sgn(self): return _pw.sgn(self)
    def reciprocal(self): return _pw.reciprocal(self)
    def reciprocal_(self): return _pw.reciprocal_(self)
    def square(self): return _pw.square(self)
    def exp(self): return _pw.exp(self)
    def exp_(self): return _pw.exp_(self)
    def exp2(self): return _pw.exp2(self)
    def log(self): return _pw.log(self)
    def log_(self): return _pw.log_(self)
    def log2(self): return _pw.log2(self)
    def log10(self): return _pw.log10(self)
    def log1p(self): return _pw.log1p(self)
    def expm1(self): return _pw.expm1(self)
    def sqrt(self): return _pw.sqrt(self)
    def sqrt_(self): return _pw.sqrt_(self)
    def rsqrt(self): return _pw.rsqrt(self)
    def sin(self): return _pw.sin(self)
    def cos(self): return _pw.cos(self)
    def tan(self): return _pw.tan(self)
    def asin(self): return _pw.asin(self)
    def acos(self): return _pw.acos(self)
    def atan(self): return _pw.atan(self)
    def arcsin(self): return _pw.asin(self)
    def arccos(self): return _pw.acos(self)
    def arctan(self): return _pw.atan(self)
    def atan2(self, other): return _pw.atan2(self, other)
    def arctan2(self, other): return _pw.atan2(self, other)
    def sinh(self): return _pw.sinh(self)
    def cosh(self): return _pw.cosh(self)
    def tanh(self): return _pw.tanh(self)
    def tanh_(self): return _pw.tanh_(self)
    def asinh(self): return _pw.asinh(self)
    def acosh(self): return _pw.acosh(self)
    def atanh(self): return _pw.atanh(self)
    def arcsinh(self): return _pw.asinh(self)
    def arccosh(self): return _pw.acosh(self)
    def arctanh(self): return _pw.atanh(self)
    def sigmoid(self): return _pw.sigmoid(self)
    def sigmoid_(self): return _pw.sigmoid_(self)
    def relu(self): return _pw.relu(self)
    def relu_(self): return _pw.relu_(self)
    def erf(self): return _pw.erf(self)
    def erfc(self): return _pw.erfc(self)
    def erfinv(self): return _pw.erfinv(self)
    def floor(self): return _pw.floor(self)
    def floor_(self): return _pw.floor_(self)
    def ceil(self): return _pw.ceil(self)
    def ceil_(self): return _pw.ceil_(self)
    def round(self, *, decimals=0): return _pw.round(self, decimals=decimals)
    def round_(self, *, decimals=0): return _pw.round_(self, decimals=decimals)
    def trunc(self): return _pw.trunc(self)
    def trunc_(self): return _pw.trunc_(self)
    def fix(self): return _pw.trunc(self)
    def frac(self): return _pw.frac(self)
    def clamp(self, min=None, max=None): return _pw.clamp(self, min, max)
    def clamp_(self, min=None, max=None): return _pw.clamp_(self, min, max)
    def clip(self, min=None, max=None): return _pw.clamp(self, min, max)
    def clip_(self, min=None, max=None): return _pw.clamp_(self, min, max)
    def clamp_min(self, min): return _pw.clamp_min(self, min)
    def clamp_min_(self, min): return _pw.clamp_min_(self, min)
    def clamp_max(self, max): return _pw.clamp_max(self, max)
    def clamp_max_(self, max): return _pw.clamp_max_(self, max)
    def where(self, condition, y): return _pw.where(condition, self, y)
    def maximum(self, other): return _pw.maximum(self, other)
    def minimum(self, other): return _pw.minimum(self, other)
    def fmax(self, other): return _pw.fmax(self, other)
    def fmin(self, other): return _pw.fmin(self, other)
    def lerp(self, end, weight): return _pw.lerp(self, end, weight)
    def lerp_(self, end, weight): return _pw.lerp_(self, end, weight)
    def addcmul(self, tensor1, tensor2, *, value=1): return _pw.addcmul(self, tensor1, tensor2, value=value)
    def addcmul_(self, tensor1, tensor2, *, value=1): return _pw.addcmul_(self, tensor1, tensor2, value=value)
    def addcdiv(self, tensor1, tensor2, *, value=1): return _pw.addcdiv(self, tensor1, tensor2, value=value)
    def addcdiv_(self, tensor1, tensor2, *, value=1): return _pw.addcdiv_(self, tensor1, tensor2, value=value)
    def eq(self, other): return _pw.eq(self, other)
    def ne(self, other): return _pw.ne(self, other)
    def lt(self, other): return _pw.lt(self, other)
    def le(self, other): return _pw.le(self, other)
    def gt(self, other): return _pw.gt(self, other)
    def ge(self, other): return _pw.ge(self, other)
    def not_equal(self, other): return _pw.ne(self, other)
    def greater(self, other): return _pw.gt(self, other)
    def greater_equal(self, other): return _pw.ge(self, other)
    def less(self, other): return _pw.lt(self, other)
    def less_equal(self, other): return _pw.le(self, other)
    def equal(self, other): return _pw.equal(self, other)
    def allclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False): return _pw.allclose(self, other, rtol, atol, equal_nan)
    def isclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False): return _pw.isclose(self, other, rtol, atol, equal_nan)
    def logical_and(self, other): return _pw.logical_and(self, other)
    def logical_or(self, other): return _pw.logical_or(self, other)
    def logical_xor(self, other): return _pw.logical_xor(self, other)
    def logical_not(self): return _pw.logical_not(self)
    def bitwise_and(self, other): return _pw.bitwise_and(self, other)
    def bitwise_or(self, other): return _pw.bitwise_or(self, other)
    def bitwise_xor(self, other): return _pw.bitwise_xor(self, other)
    def bitwise_not(self): return _pw.bitwise_not(self)
    def bitwise_left_shift(self, other): return _pw.bitwise_left_shift(self, other)
    def bitwise_right_shift(self, other): return _pw.bitwise_right_shift(self, other)
    def isnan(self): return _pw.isnan(self)
    def isinf(self): return _pw.isinf(self)
    def isfinite(self): return _pw.isfinite(self)
    def isposinf(self): return _pw.isposinf(self)
    def isneginf(self): return _pw.isneginf(self)
    def nan_to_num(self, nan=0.0, posinf=None, neginf=None): return _pw.nan_to_num(self, nan, posinf, neginf)
    def nan_to_num_(self, nan=0.0, posinf=None, neginf=None): return _pw.nan_to_num_(self, nan, posinf, neginf)
    def absolute_(self): return _pw.abs_(self)
    def negative_(self): return _pw.neg_(self)
    def sign_(self): return _pw.sign_(self)
    def sgn_(self): return _pw.sgn_(self)
    def square_(self): return _pw.square_(self)
    def subtract_(self, other, *, alpha=1): return _pw.sub_(self, other, alpha=alpha)
    def multiply_(self, other): return _pw.mul_(self, other)
    def divide_(self, other, *, rounding_mode=None): return _pw.div_(self, other, rounding_mode=rounding_mode)
    def true_divide_(self, other): return _pw.true_divide_(self, other)
    def fmod_(self, other): return _pw.fmod_(self, other)
    def float_power_(self, exponent): return _pw.float_power_(self, exponent)
    def exp2_(self): return _pw.exp2_(self)
    def expm1_(self): return _pw.expm1_(self)
    def log2_(self): return _pw.log2_(self)
    def log10_(self): return _pw.log10_(self)
    def log1p_(self): return _pw.log1p_(self)
    def rsqrt_(self): return _pw.rsqrt_(self)
    def sin_(self): return _pw.sin_(self)
    def cos_(self): return _pw.cos_(self)
    def tan_(self): return _pw.tan_(self)
    def asin_(self): return _pw.asin_(self)
    def acos_(self): return _pw.acos_(self)
    def atan_(self): return _pw.atan_(self)
    def arcsin_(self): return _pw.asin_(self)
    def arccos_(self): return _pw.acos_(self)
    def arctan_(self): return _pw.atan_(self)
    def atan2_(self, other): return _pw.atan2_(self, other)
    def arctan2_(self, other): return _pw.atan2_(self, other)
    def sinh_(self): return _pw.sinh_(self)
    def cosh_(self): return _pw.cosh_(self)
    def asinh_(self): return _pw.asinh_(self)
    def acosh_(self): return _pw.acosh_(self)
    def atanh_(self): return _pw.atanh_(self)
    def arcsinh_(self): return _pw.asinh_(self)
    def arccosh_(self): return _pw.acosh_(self)
    def arctanh_(self): return _pw.atanh_(self)
    def erf_(self): return _pw.erf_(self)
    def erfc_(self): return _pw.erfc_(self)
    def erfinv_(self): return _pw.erfinv_(self)
    def fix_(self): return _pw.trunc_(self)
    def frac_(self): return _pw.frac_(self)
    def eq_(self, other): return _pw.eq_(self, other)
    def ne_(self, other): return _pw.ne_(self, other)
    def lt_(self, other): return _pw.lt_(self, other)
    def le_(self, other): return _pw.le_(self, other)
    def gt_(self, other): return _pw.gt_(self, other)
    def ge_(self, other): return _pw.ge_(self, other)
    def not_equal_(self, other): return _pw.ne_(self, other)
    def greater_(self, other): return _pw.gt_(self, other)
    def greater_equal_(self, other): return _pw.ge_(self, other)
    def less_(self, other): return _pw.lt_(self, other)
    def less_equal_(self, other): return _pw.le_(self, other)
    def logical_and_(self, other): return _pw.logical_and_(self, other)
    def logical_or_(self, other): return _pw.logical_or_(self, other)
    def logical_xor_(self, other): return _pw.logical_xor_(self, other)
    def logical_not_(self): return _pw.logical_not_(self)
    def bitwise_and_(self, other): return _pw.bitwise_and_(self, other)
    def bitwise_or_(self, other): return _pw.bitwise_or_(self, other)
    def bitwise_xor_(self, other): return _pw.bitwise_xor_(self, other)
    def bitwise_not_(self): return _pw.bitwise_not_(self)
    def bitwise_left_shift_(self, other): return _pw.bitwise_left_shift_(self, other)
    def bitwise_right_shift_(self, other): return _pw.bitwise_right_shift_(self, other)
    def __ilshift__(self, other): return _pw.bitwise_left_shift_(self, other)
    def __irshift__(self, other): return _pw.bitwise_right_shift_(self, other)
    def __rlshift__(self, other): return _pw.bitwise_left_shift(other, self)
    def __rrshift__(self, other): return _pw.bitwise_right_shift(other, self)
    def zero_(self): return _pw.fill_(self, 0)
    def fill_(self, value): return _pw.fill_(self, value)
    def copy_(self, src, non_blocking=False): return _pw.copy_(self, src)

    # ----------------------------------------------------------------- reductions
    def sum(self, dim=None, keepdim=False, *, dtype=None): return _red.sum(self, dim, keepdim, dtype=dtype)
    def nansum(self, dim=None, keepdim=False, *, dtype=None): return _red.nansum(self, dim, keepdim, dtype=dtype)
    def mean(self, dim=None, keepdim=False, *, dtype=None): return _red.mean(self, dim, keepdim, dtype=dtype)
    def nanmean(self, dim=None, keepdim=False, *, dtype=None): return _red.nanmean(self, dim, keepdim, dtype=dtype)
    def prod(self, dim=None, keepdim=False, *, dtype=None): return _red.prod(self, dim, keepdim, dtype=dtype)
    def sum_to_size(self, *size): return _red.sum_to_size(self, *size)
    def max(self, dim=None, keepdim=False): return _red.max(self, dim, keepdim)
    def min(self, dim=None, keepdim=False): return _red.min(self, dim, keepdim)
    def amax(self, dim=(), keepdim=False): return _red.amax(self, dim, keepdim)
    def amin(self, dim=(), keepdim=False): return _red.amin(self, dim, keepdim)
    def aminmax(self, *, dim=None, keepdim=False): return _red.aminmax(self, dim=dim, keepdim=keepdim)
    def argmax(self, dim=None, keepdim=False): return _red.argmax(self, dim, keepdim)
    def argmin(self, dim=None, keepdim=False): return _red.argmin(self, dim, keepdim)
    def std(self, dim=None, unbiased=None, keepdim=False, *, correction=None): return _red.std(self, dim, unbiased, keepdim, correction=correction)
    def var(self, dim=None, unbiased=None, keepdim=False, *, correction=None): return _red.var(self, dim, unbiased, keepdim, correction=correction)
    def norm(self, p="fro", dim=None, keepdim=False, dtype=None): return _red.norm(self, p, dim, keepdim, dtype=dtype)
    def logsumexp(self, dim, keepdim=False): return _red.logsumexp(self, dim, keepdim)
    def softmax(self, dim, dtype=None): return _red.softmax(self, dim, dtype=dtype)
    def log_softmax(self, dim, dtype=None): return _red.log_softmax(self, dim, dtype=dtype)
    def cumsum(self, dim, *, dtype=None): return _red.cumsum(self, dim, dtype=dtype)
    def cumprod(self, dim, *, dtype=None): return _red.cumprod(self, dim, dtype=dtype)
    def all(self, dim=None, keepdim=False): return _red.all(self, dim, keepdim)
    def any(self, dim=None, keepdim=False): return _red.any(self, dim, keepdim)
    def count_nonzero(self, dim=None): return _red.count_nonzero(self, dim)

    # ----------------------------------------------------------------- linear algebra
    def matmul(self, other): return _la.matmul(self, other)
    def mm(self, mat2): return _la.mm(self, mat2)
    def bmm(self, mat2): return _la.bmm(self, mat2)
    def mv(self, vec): return _la.mv(self, vec)
    def dot(self, other): return _la.dot(self, other)
    def inner(self, other): return _la.inner(self, other)
    def outer(self, vec2): return _la.outer(self, vec2)
    def ger(self, vec2): return _la.outer(self, vec2)
    def addmm(self, mat1, mat2, *, beta=1, alpha=1): return _la.addmm(self, mat1, mat2, beta=beta, alpha=alpha)
    def addmm_(self, mat1, mat2, *, beta=1, alpha=1): return _la.addmm_(self, mat1, mat2, beta=beta, alpha=alpha)
    def baddbmm(self, batch1, batch2, *, beta=1, alpha=1): return _la.baddbmm(self, batch1, batch2, beta=beta, alpha=alpha)
    def baddbmm_(self, batch1, batch2, *, beta=1, alpha=1): return _la.baddbmm_(self, batch1, batch2, beta=beta, alpha=alpha)
    def addbmm(self, batch1, batch2, *, beta=1, alpha=1): return _la.addbmm(self, batch1, batch2, beta=beta, alpha=alpha)
    def addbmm_(self, batch1, batch2, *, beta=1, alpha=1): return _la.addbmm_(self, batch1, batch2, beta=beta, alpha=alpha)
    def addmv(self, mat, vec, *, beta=1, alpha=1): return _la.addmv(self, mat, vec, beta=beta, alpha=alpha)
    def addmv_(self, mat, vec, *, beta=1, alpha=1): return _la.addmv_(self, mat, vec, beta=beta, alpha=alpha)
    def addr(self, vec1, vec2, *, beta=1, alpha=1): return _la.addr(self, vec1, vec2, beta=beta, alpha=alpha)
    def addr_(self, vec1, vec2, *, beta=1, alpha=1): return _la.addr_(self, vec1, vec2, beta=beta, alpha=alpha)
    def vdot(self, other): return _la.vdot(self, other)

    # ----------------------------------------------------------------- shape and views
    def view(self, *shape): return _sh.view(self, *shape)
    def view_as(self, other): return _sh.view(self, other.shape)
    def reshape(self, *shape): return _sh.reshape(self, *shape)
    def reshape_as(self, other): return _sh.reshape(self, other.shape)
    def flatten(self, start_dim=0, end_dim=-1): return _sh.flatten(self, start_dim, end_dim)
    def unflatten(self, dim, sizes): return _sh.unflatten(self, dim, sizes)
    def ravel(self): return _sh.reshape(self, -1)
    def squeeze(self, dim=None): return _sh.squeeze(self, dim)
    def squeeze_(self, dim=None): return _sh.squeeze_(self, dim)
    def unsqueeze(self, dim): return _sh.unsqueeze(self, dim)
    def unsqueeze_(self, dim): return _sh.unsqueeze_(self, dim)
    def permute(self, *dims): return _sh.permute(self, *dims)
    def transpose(self, dim0, dim1): return _sh.transpose(self, dim0, dim1)
    def transpose_(self, dim0, dim1): return _sh.transpose_(self, dim0, dim1)
    def swapaxes(self, axis0, axis1): return _sh.transpose(self, axis0, axis1)
    def swapdims(self, dim0, dim1): return _sh.transpose(self, dim0, dim1)
    def t(self): return _sh.t(self)
    def t_(self): return _sh.t_(self)
    @property
    def T(self): return _sh.T(self)
    @property
    def mT(self): return _sh.mT(self)
    @property
    def H(self): return _sh.H(self)
    @property
    def mH(self): return _sh.mH(self)
    def adjoint(self): return _sh.adjoint(self)
    def expand(self, *sizes): return _sh.expand(self, *sizes)
    def expand_as(self, other): return _sh.expand(self, other.shape)
    def broadcast_to(self, size): return _sh.expand(self, size)
    def repeat(self, *sizes): return _sh.repeat(self, *sizes)
    def repeat_interleave(self, repeats, dim=None, *, output_size=None): return _sh.repeat_interleave(self, repeats, dim, output_size=output_size)
    def tile(self, *dims): return _sh.tile(self, *dims)
    def split(self, split_size, dim=0): return _sh.split(self, split_size, dim)
    def tensor_split(self, indices_or_sections, dim=0): return _sh.tensor_split(self, indices_or_sections, dim)
    def chunk(self, chunks, dim=0): return _sh.chunk(self, chunks, dim)
    def unbind(self, dim=0): return _sh.unbind(self, dim)
    def narrow(self, dim, start, length): return _sh.narrow(self, dim, start, length)
    def select(self, dim, index): return _sh.select(self, dim, index)
    def unfold(self, dimension, size, step): return _sh.unfold(self, dimension, size, step)
    def flip(self, *dims): return _sh.flip(self, *dims)
    def fliplr(self): return _sh.fliplr(self)
    def flipud(self): return _sh.flipud(self)
    def roll(self, shifts, dims=None): return _sh.roll(self, shifts, dims)
    def tril(self, diagonal=0): return _sh.tril(self, diagonal)
    def tril_(self, diagonal=0): return _sh.tril_(self, diagonal)
    def triu(self, diagonal=0): return _sh.triu(self, diagonal)
    def triu_(self, diagonal=0): return _sh.triu_(self, diagonal)
    def movedim(self, source, destination): return _sh.movedim(self, source, destination)
    def moveaxis(self, source, destination): return _sh.movedim(self, source, destination)
    def diagonal(self, offset=0, dim1=0, dim2=1): return _sh.diagonal(self, offset, dim1, dim2)
    def diag(self, diagonal=0): return _sh.diag(self, diagonal)
    def diag_embed(self, offset=0, dim1=-2, dim2=-1): return _sh.diag_embed(self, offset, dim1, dim2)
    def trace(self): return _sh.trace(self)
    def as_strided(self, size, stride, storage_offset=None): return _sh.as_strided(self, size, stride, storage_offset)

    # ----------------------------------------------------------------- indexing
    def gather(self, dim, index, *, sparse_grad=False): return _ix.gather(self, dim, index)
    def scatter(self, dim, index, src=None, *, value=None, reduce=None): return _ix.scatter(self, dim, index, src, value=value, reduce=reduce)
    def scatter_(self, dim, index, src=None, *, value=None, reduce=None): return _ix.scatter_(self, dim, index, src, value=value, reduce=reduce)
    def scatter_add(self, dim, index, src): return _ix.scatter_add(self, dim, index, src)
    def scatter_add_(self, dim, index, src): return _ix.scatter_add_(self, dim, index, src)
    def scatter_reduce(self, dim, index, src, reduce, *, include_self=True): return _ix.scatter_reduce(self, dim, index, src, reduce, include_self=include_self)
    def scatter_reduce_(self, dim, index, src, reduce, *, include_self=True): return _ix.scatter_reduce_(self, dim, index, src, reduce, include_self=include_self)
    def index_select(self, dim, index): return _ix.index_select(self, dim, index)
    def index_add(self, dim, index, source, *, alpha=1): return _ix.index_add(self, dim, index, source, alpha=alpha)
    def index_add_(self, dim, index, source, *, alpha=1): return _ix.index_add_(self, dim, index, source, alpha=alpha)
    def index_copy(self, dim, index, source): return _ix.index_copy(self, dim, index, source)
    def index_copy_(self, dim, index, source): return _ix.index_copy_(self, dim, index, source)
    def index_fill(self, dim, index, value): return _ix.index_fill(self, dim, index, value)
    def index_fill_(self, dim, index, value): return _ix.index_fill_(self, dim, index, value)
    def index_put(self, indices, values, accumulate=False): return _ix.index_put(self, indices, values, accumulate)
    def index_put_(self, indices, values, accumulate=False): return _ix.index_put_(self, indices, values, accumulate)
    def masked_fill(self, mask, value): return _ix.masked_fill(self, mask, value)
    def masked_fill_(self, mask, value): return _ix.masked_fill_(self, mask, value)
    def masked_select(self, mask): return _ix.masked_select(self, mask)
    def masked_scatter(self, mask, source): return _ix.masked_scatter(self, mask, source)
    def masked_scatter_(self, mask, source): return _ix.masked_scatter_(self, mask, source)
    def take(self, index): return _ix.take(self, index)
    def take_along_dim(self, indices, dim=None): return _ix.take_along_dim(self, indices, dim)
    def nonzero(self, *, as_tuple=False): return _ix.nonzero(self, as_tuple=as_tuple)
    def argwhere(self): return _ix.nonzero(self)
    def sort(self, dim=-1, descending=False, stable=False): return _ix.sort(self, dim, descending, stable=stable)
    def argsort(self, dim=-1, descending=False, stable=False): return _ix.argsort(self, dim, descending, stable=stable)
    def msort(self): return _ix.sort(self, 0)[0]
    def topk(self, k, dim=-1, largest=True, sorted=True): return _ix.topk(self, k, dim, largest, sorted)
    def kthvalue(self, k, dim=-1, keepdim=False): return _ix.kthvalue(self, k, dim, keepdim)
    def unique(self, sorted=True, return_inverse=False, return_counts=False, dim=None): return _ix.unique(self, sorted, return_inverse, return_counts, dim)
    def unique_consecutive(self, return_inverse=False, return_counts=False, dim=None): return _ix.unique_consecutive(self, return_inverse, return_counts, dim)

    # ----------------------------------------------------------------- random fills
    def uniform_(self, from_=0, to=1, *, generator=None): return _cr.uniform_(self, from_, to, generator=generator)
    def normal_(self, mean=0, std=1, *, generator=None): return _cr.normal_(self, mean, std, generator=generator)
    def bernoulli_(self, p=0.5, *, generator=None): return _cr.bernoulli_(self, p, generator=generator)
    def bernoulli(self, p=None, *, generator=None): return _cr.bernoulli(self, p, generator=generator)
    def random_(self, *args, generator=None, **kwargs): return _cr.random_(self, *args, generator=generator, **kwargs)
    def exponential_(self, lambd=1, *, generator=None): return _cr.exponential_(self, lambd, generator=generator)
    def geometric_(self, p, *, generator=None): return _cr.geometric_(self, p, generator=generator)
    def log_normal_(self, mean=1, std=2, *, generator=None): return _cr.log_normal_(self, mean, std, generator=generator)
    def cauchy_(self, median=0, sigma=1, *, generator=None): return _cr.cauchy_(self, median, sigma, generator=generator)
    def multinomial(self, num_samples, replacement=False, *, generator=None): return _cr.multinomial(self, num_samples, replacement, generator=generator)


def _warn_non_leaf_grad() -> None:
    import warnings
    warnings.warn(
        "The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. Its .grad "
        "attribute won't be populated during autograd.backward(). If you indeed want the .grad "
        "field to be populated for a non-leaf Tensor, use .retain_grad() on the non-leaf "
        "Tensor. If you access the non-leaf Tensor by mistake, make sure you access the leaf "
        "Tensor instead. See github.com/pytorch/pytorch/pull/30531 for more information.",
        UserWarning, stacklevel=3)


def _grad_dtype_message(got: _dt.dtype, want: _dt.dtype) -> str:
    from ember._ops.inplace import _type_name
    return (f"attempting to assign a gradient with dtype '{_C_NAMES.get(got.name, got.name)}' "
            f"to a tensor with grad_dtype '{_type_name(want)}'. The gradient must match the "
            "tensor's grad_dtype (defaults to the tensor's dtype). You can set the tensor's "
            "grad_dtype attribute with a specific dtype, or None to allow any dtype. Set "
            "grad_dtype with caution. Diverging the dtypes of a tensor and its gradient may "
            "break downstream systems that assume they match.")


_C_NAMES = {"float32": "float", "float64": "double", "float16": "c10::Half",
            "bfloat16": "c10::BFloat16", "int64": "long int", "int32": "int",
            "int16": "short int", "int8": "signed char", "uint8": "unsigned char", "bool": "bool"}


# The op families and autograd import Tensor from here, so they come after it is defined.
from ember._ops import creation as _cr  # noqa: E402
from ember._ops import indexing as _ix  # noqa: E402
from ember._ops import linalg as _la  # noqa: E402
from ember._ops import pointwise as _pw  # noqa: E402
from ember._ops import reduction as _red  # noqa: E402
from ember._ops import shape as _sh  # noqa: E402
from ember.autograd.grad_mode import _state  # noqa: E402
