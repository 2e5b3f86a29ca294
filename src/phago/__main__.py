"""``python -m phago`` runs the command line."""

from phago.cli import main

if __name__ == "__main__":
    main()
