"""The exception type for problems a user can fix."""


class DigitsuiteError(Exception):
    """A problem with the user's input (files, arguments, models).

    Scripts print it as a single ``error: <message>`` line and exit non-zero,
    so the message must say what is wrong and what to do about it.
    """

    exit_code = 2


class DataError(DigitsuiteError):
    """A dataset file is missing, corrupt or has the wrong contents."""


class ModelFileError(DigitsuiteError):
    """A saved model is missing, unreadable or not the kind expected."""


class ImageError(DigitsuiteError):
    """An image file is missing, unreadable, too small, too large or blank."""


class Interrupted(DigitsuiteError):
    """Ctrl-C or SIGTERM stopped the run; the message says how to resume."""

    exit_code = 130


def printable(text):
    """``text`` safe to print on any terminal and to draw in a figure: bytes
    of a file name that are not UTF-8 (kept by Python as lone surrogates,
    which a UTF-8 stream or a font cannot take) are shown as ``\\xNN``."""
    return str(text).encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
