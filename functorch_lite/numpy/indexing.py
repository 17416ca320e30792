"""(being written) NumPy indexing, take/take_along_axis and .at[] updates."""


def getitem(a, idx):
    raise NotImplementedError("indexing is being written")


def setitem_error(a, idx, value):
    raise TypeError(f"{type(a).__name__} objects are immutable: `x[idx] = y` is not "
                    "supported; use `x = x.at[idx].set(y)` instead")


class AtIndexer:
    def __init__(self, array):
        self.array = array


def take(a, indices, axis=None, mode=None, fill_value=None):
    raise NotImplementedError("take is being written")


def take_along_axis(arr, indices, axis, mode=None, fill_value=None):
    raise NotImplementedError("take_along_axis is being written")
