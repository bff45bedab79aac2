"""``python -m jobstream``: the same as the ``jobstream`` command."""

from .cli import main

if __name__ == "__main__":
    main()
