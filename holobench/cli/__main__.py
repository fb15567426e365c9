"""``python -m holobench.cli``: the same entry point as the installed ``holobench`` script."""

from holobench.cli import main

if __name__ == "__main__":
    main()
