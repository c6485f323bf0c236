"""``python -m avsprobe`` runs the command-line interface."""

from avsprobe.cli.app import main

if __name__ == "__main__":
    main()
