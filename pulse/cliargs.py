"""Argument parsing shared by every `pulse` command: one line per mistake, exit 2.

argparse prints the whole usage block before its error; a person who typed one wrong
value needs the value, what was expected and where to look, on one line. Sub-parsers
inherit the parser class, so every sub-command gets the same behaviour.
"""

from __future__ import annotations

import argparse
import math
import sys
from datetime import date
from typing import NoReturn

EXIT_USAGE = 2


class OneLineParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        print(f"{self.prog}: {message} (see `{self.prog} --help`)", file=sys.stderr)
        sys.exit(EXIT_USAGE)


def day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a day; use YYYY-MM-DD") from None


def _integer(text: str, minimum: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"{text} is below {minimum}")
    return value


def positive_int(text: str) -> int:
    return _integer(text, 1)


def non_negative_int(text: str) -> int:
    return _integer(text, 0)


def fraction(text: str) -> float:
    """A share between 0 and 1 inclusive (nan and inf are not shares)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise argparse.ArgumentTypeError(f"{text} is not a share between 0 and 1")
    return value


def positive_fraction(text: str) -> float:
    """A share above 0, up to 1 (a scale factor: 0 would leave nothing)."""
    value = fraction(text)
    if value == 0.0:
        raise argparse.ArgumentTypeError(f"{text} is not above 0: give a share in (0, 1]")
    return value


def hours(text: str) -> float:
    """A finite, non-negative number of hours, at most a year."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (math.isfinite(value) and 0.0 <= value <= 8760.0):
        raise argparse.ArgumentTypeError(f"{text} is not a number of hours from 0 to 8760")
    return value
