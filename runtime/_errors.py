"""Exceptions raised by cnnrt. The native module raises these by name."""


class Error(Exception):
    """Base class of every cnnrt error."""


class InvalidArgumentError(Error, ValueError):
    """A wrong call: an input of the wrong shape, dtype or name."""


class InvalidModelError(Error):
    """The model file is corrupt, truncated or inconsistent."""


class UnsupportedError(Error):
    """Valid, but not supported by this build (an op, a dtype, a format version)."""


class OutOfMemoryError(Error, MemoryError):
    """An allocation failed."""


class ModelFileError(Error, OSError):
    """The model file could not be opened or read."""
