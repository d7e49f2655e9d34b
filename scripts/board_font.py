"""The tumour-board PDF's font converter, kept under this name for the commands, messages and docs that use
it; the converter itself is backend/board/font_build.py (its docstring has the usage).

    ai-server/.venv/bin/python scripts/board_font.py [OUTPUT] [--source TTC] [--face N]
"""

import runpy
from pathlib import Path

runpy.run_path(str(Path(__file__).resolve().parents[1] / "backend" / "board" / "font_build.py"), run_name="__main__")
