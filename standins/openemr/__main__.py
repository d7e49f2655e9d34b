"""python -m standins.openemr: see server.py and standins/README.md."""

from .server import main

main()
