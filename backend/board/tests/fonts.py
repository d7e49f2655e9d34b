"""The PDF's font for the tests: BOARD_PDF_FONT when that file exists, else made once per test run by
scripts/board_font.py from fonts-noto-cjk (with the ai-server's Python, which has fontTools)."""

import atexit
import functools
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from django.conf import settings

REPO = Path(settings.BASE_DIR).parent
CONVERTER = REPO / "scripts" / "board_font.py"
FONT_PYTHON = REPO / "ai-server" / ".venv" / "bin" / "python"


@functools.cache
def font_file() -> Path:
    configured = Path(settings.BOARD_PDF_FONT)
    if configured.is_file():
        return configured
    folder = tempfile.mkdtemp(prefix="board-font-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    output = Path(folder) / "NotoSansCJKkr-Regular-TT.ttf"
    python = FONT_PYTHON if FONT_PYTHON.exists() else Path(sys.executable)
    done = subprocess.run([str(python), str(CONVERTER), str(output)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"scripts/board_font.py failed:\n{done.stdout}\n{done.stderr}"
    return output


def use_font(settings_fixture) -> Path:
    settings_fixture.BOARD_PDF_FONT = str(font_file())
    return font_file()
