"""The one exception type a user sees as a one-line error."""


class KDError(Exception):
    """A user error in a distillation run (bad input, option or set-up).

    The message says what is wrong and where (file and line where there is one); the
    command prints it as one ERROR line and exits with status 2, without a traceback.
    """
