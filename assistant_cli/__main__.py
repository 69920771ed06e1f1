"""`python -m assistant_cli` runs the command-line interface."""

from assistant_cli.cli.entry import main

if __name__ == "__main__":
    main()
