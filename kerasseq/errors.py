"""The one exception family kerasseq raises for problems a user can fix.

Every error names the problem (file, row, column, key, value) and the fix.
The CLI turns any `KerasSeqError` into exit code 2 and a one-line
``error: ...`` message.
"""


class KerasSeqError(Exception):
    """Base class of every error kerasseq raises on purpose."""


class DataError(KerasSeqError, ValueError):
    """A dataset cannot be read or is unusable (bad file, column, label)."""


class ConfigError(KerasSeqError, ValueError):
    """A configuration value, hyper-parameter or argument is invalid."""


class ArtifactError(KerasSeqError):
    """A saved artifact (tokenizer JSON, model, export) is missing or bad."""


class KerasSeqWarning(UserWarning):
    """Base class of kerasseq's warnings; the CLI prints them on one
    line."""


class MultiLabelWarning(KerasSeqWarning):
    """Single-label data whose labels contain the multi-label separator."""
