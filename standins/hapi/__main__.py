"""python -m standins.hapi: see server.py and standins/README.md."""

from .server import main

main()
