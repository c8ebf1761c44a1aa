"""One line saying what went wrong, for the programs' error messages and skip logs."""

import sys


def one_line(error):
    """The line of `error` that says why. For TensorFlow errors, an Assert's message rather
    than "Graph execution error:" or the stack trace around it.

    Examples:
        >>> one_line(ValueError("No images in HR folder x"))
        'No images in HR folder x'
    """
    tf = sys.modules.get("tensorflow")  # a TensorFlow error exists only once it is imported
    if tf is not None and isinstance(error, tf.errors.OpError):
        lines = [line.strip() for line in error.message.strip().splitlines() if line.strip()]
        for line in lines:
            if line.startswith("assertion failed: ["):
                return line[len("assertion failed: ["):-1] if line.endswith("]") else line
        useful = [line for line in lines if not line.startswith(
            ("Graph execution error", "Detected at node", "<stack traces", "[[", "File "))]
        return (useful or lines or [type(error).__name__])[0]
    return str(error) or type(error).__name__
