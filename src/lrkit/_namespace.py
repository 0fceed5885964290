"""The array namespace of an input array, without a dependency on ``array-api-compat``.

numpy arrays use ``numpy``; arrays that implement the array API standard (jax, including jit
tracers, numpy >= 2, cupy) use ``x.__array_namespace__()``; torch tensors, which do not, use a small
wrapper of ``torch`` that adds the few array-API functions lrkit's schedules call and torch spells
differently (``isdtype``, ``astype``) or that refuse Python scalars (``maximum``, ``minimum``).
The wrapper follows ``array_api_compat.torch`` for those functions, so values are the same.
"""

from __future__ import annotations

import functools
from types import ModuleType
from typing import Any

import numpy as np

from lrkit.errors import ScheduleTypeError

__all__ = ["array_namespace"]


def array_namespace(x: Any) -> Any:
    """The namespace whose functions evaluate a schedule on ``x``.

    >>> import numpy as np
    >>> array_namespace(np.zeros(2)) is np
    True
    """
    if isinstance(x, np.ndarray | np.generic):
        return np
    if type(x).__module__.split(".", 1)[0] == "torch":
        return _torch_namespace()
    get = getattr(x, "__array_namespace__", None)
    if get is not None:
        return get()
    raise ScheduleTypeError(
        f"steps must be a number, a numpy array or an array-API array (torch, jax), "
        f"got {type(x).__name__}"
    )


class _TorchNamespace:
    """``torch`` plus the array-API spellings lrkit uses (as ``array_api_compat.torch``)."""

    __name__ = "lrkit._namespace.torch"

    def __init__(self, torch: ModuleType) -> None:
        self._torch = torch

    def __getattr__(self, name: str) -> Any:
        return getattr(self._torch, name)

    def isdtype(self, dtype: Any, kind: str) -> bool:
        if kind != "real floating":  # pragma: no cover - the only kind lrkit asks about
            raise ValueError(f"isdtype: unsupported kind {kind!r}")
        return bool(dtype.is_floating_point)

    def astype(self, x: Any, dtype: Any) -> Any:
        return x.to(dtype)

    def _pair(self, x1: Any, x2: Any) -> tuple[Any, Any]:
        """Python scalars become tensors of the other argument's dtype; 0-d tensors are promoted
        like the standard says (torch would down-cast the other argument)."""
        torch = self._torch
        if not isinstance(x1, torch.Tensor):
            x1 = torch.asarray(x1, dtype=torch.result_type(x1, x2), device=x2.device)
        elif not isinstance(x2, torch.Tensor):
            x2 = torch.asarray(x2, dtype=torch.result_type(x2, x1), device=x1.device)
        elif x1.dtype != x2.dtype and (x1.shape == () or x2.shape == ()):
            dtype = torch.promote_types(x1.dtype, x2.dtype)
            x1, x2 = x1.to(dtype), x2.to(dtype)
        return x1, x2

    def maximum(self, x1: Any, x2: Any) -> Any:
        return self._torch.maximum(*self._pair(x1, x2))

    def minimum(self, x1: Any, x2: Any) -> Any:
        return self._torch.minimum(*self._pair(x1, x2))

    def where(self, condition: Any, x1: Any, x2: Any) -> Any:
        torch = self._torch
        if isinstance(x1, torch.Tensor) and isinstance(x2, torch.Tensor):
            x1, x2 = self._pair(x1, x2)
        return torch.where(condition, x1, x2)


@functools.cache
def _torch_namespace() -> _TorchNamespace:
    import torch

    return _TorchNamespace(torch)
