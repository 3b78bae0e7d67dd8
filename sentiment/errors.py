"""The exceptions whose messages the UI and the CLI show to people as they are."""


class SentimentError(Exception):
    """An expected failure with a message meant for a person (bad input, refused action)."""


class InvalidInputError(SentimentError):
    """Uploaded data or typed text that cannot be used; nothing was recorded."""


class NotFoundError(SentimentError):
    """A dataset, model version or production model that does not exist."""


class RefusedError(SentimentError):
    """A lifecycle action refused by a rule (unvalidated promotion, wrong base type)."""


class CancelledError(SentimentError):
    """Training was cancelled by the user; nothing was registered."""


class NoProductionError(NotFoundError):
    """The registry has versions but no production alias (removed outside the app)."""
