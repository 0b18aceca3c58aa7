"""The terminal UI's static files (HTML, CSS, JavaScript), served by the gateway at GET /.

Kept inside the package so the wheel ships them; `DIR` is where they are on disk.
"""

from pathlib import Path

DIR = Path(__file__).resolve().parent
