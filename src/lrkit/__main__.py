"""``python -m lrkit``: the same as the ``lrkit`` command."""

from lrkit._entry import main

if __name__ == "__main__":
    main()
