"""Exceptions for input a user gave that cannot be used; the CLI prints them in one line."""


class D2CAError(Exception):
    """Base of every error caused by input (files, options, checkpoints), not by a bug."""


class CheckpointError(D2CAError):
    """A checkpoint folder or Hub repo that is missing, incomplete or inconsistent."""


class InputError(D2CAError, ValueError):
    """An image, video, folder or option value that cannot be used."""


class NoFaceError(InputError):
    """No face was found where one is required (swap, interpolate)."""


class DeviceError(D2CAError):
    """A torch device that is not on this machine (``cuda`` without a GPU, ``cuda:3`` of two).

    An invalid option value: the CLI exits with code 2, as for other bad options.
    """

    exit_code = 2
