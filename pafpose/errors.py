"""Errors a user can fix. The CLI prints them as one line naming the offending thing."""


class UserError(ValueError):
    """Bad input: a missing or corrupt file, a malformed annotation, an unknown option."""
