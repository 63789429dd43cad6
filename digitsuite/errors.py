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


class NoDigit(ImageError):
    """The picture was read and shows no digit: blank, specks, a dot, a
    dash, a scribble, a shadow or print. An answer rather than a fault, so
    the readers report it as one. The message is one line, ``no digit found:
    <reason>; <what to do>``; ``boxes`` are the marks that came closest (the
    picture's pixels, [x0, y0, x1, y1] each), most likely first."""

    def __init__(self, reason, boxes=()):
        super().__init__(f"no digit found: {reason}")
        self.reason = reason
        self.boxes = [[int(v) for v in box] for box in boxes]

    @property
    def box(self):
        """The mark that came closest, or None."""
        return self.boxes[0] if self.boxes else None


class Interrupted(DigitsuiteError):
    """Ctrl-C or SIGTERM stopped the run; the message says how to resume."""

    exit_code = 130


def printable(text):
    """``text`` safe to print on any terminal and to draw in a figure: bytes
    of a file name that are not UTF-8 (kept by Python as lone surrogates,
    which a UTF-8 stream or a font cannot take) are shown as ``\\xNN``."""
    return str(text).encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
