"""The errors newsrag raises on purpose. Each carries a message a user can act on."""

from __future__ import annotations


class RagError(Exception):
    """Base class: a failure with a message meant for the user, not a stack trace."""


class ConfigError(RagError):
    """A setting, config file or command-line option is invalid."""


class InputError(RagError):
    """A question, filter or other user input is invalid."""


class ArticleError(RagError):
    """An article file or record cannot be read or holds no usable text."""


class StoreError(RagError):
    """The vector store or keyword index cannot be opened, read or written."""


class EmptyStoreError(StoreError):
    """The store holds no articles yet."""


class ModelError(RagError):
    """The language model backend failed, timed out, or returned unusable output."""


class ModelDeadlineError(ModelError):
    """The model did not finish before the deadline; its request was cancelled."""


class ModelUnavailableError(ModelError):
    """The configured model cannot be loaded or reached at all."""


class EvalError(RagError):
    """A gold file or evaluation option is invalid."""
