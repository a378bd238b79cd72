"""The one exception type that means "the user asked for something we cannot do"."""


class UserError(Exception):
    """A mistake in the user's input or environment.

    The CLI prints its message as one line and exits with code 2, without a traceback.
    """
