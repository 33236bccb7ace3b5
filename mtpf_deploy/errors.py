"""User-facing errors: every message names the problem (and the file/line when there is one)."""
from __future__ import annotations


class MtpfError(Exception):
    """An error caused by the user's input or environment, printed without a traceback by the CLI."""


class DataFormatError(MtpfError):
    """A data file is malformed; the message names the file and line."""

    def __init__(self, path: object, line: int | None, problem: str):
        where = f"{path}:{line}" if line is not None else f"{path}"
        super().__init__(f"{where}: {problem}")
        self.path = path
        self.line = line
        self.problem = problem


class AdapterError(MtpfError):
    """An adapter file (untrusted, from an app) is malformed or does not fit the backbone; names file and field."""


class SignatureRefused(AdapterError):
    """A trust policy refused an adapter. ``reason`` is one of ``REASONS`` (the Kotlin core uses the same
    codes): a caller can tell "unsigned" from "revoked" without reading the message."""

    REASONS = ("unsigned", "unknown-key", "revoked-key", "bad-signature", "other-bytes", "other-backbone",
               "other-name", "other-task", "not-allowed", "revoked-adapter")

    def __init__(self, reason: str, message: str):
        assert reason in self.REASONS, reason
        super().__init__(message)
        self.reason = reason


class BundleError(MtpfError):
    """A bundle folder or its manifest is malformed; the message names the file and field."""


class InputError(MtpfError):
    """A call's texts or arguments are invalid (not a string, not valid Unicode, a bad stride...)."""
