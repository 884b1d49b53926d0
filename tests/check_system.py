"""Before the tests: are the Debian packages WeasyPrint and the browser tests need installed?"""

import ctypes.util
import shutil
import sys

MISSING = []
if not shutil.which("chromium"):
    MISSING.append("chromium")
for library, package in [("pango-1.0", "libpango-1.0-0"), ("pangoft2-1.0", "libpangoft2-1.0-0"),
                         ("harfbuzz", "libharfbuzz0b"), ("fontconfig", "libfontconfig1")]:  # fmt: skip
    if ctypes.util.find_library(library) is None:
        MISSING.append(package)
if not shutil.which("pdftoppm"):
    MISSING.append("poppler-utils")

if MISSING:
    print("Missing system packages for the tests. Install them with:", file=sys.stderr)
    print(f"    sudo apt-get install -y {' '.join(MISSING)}", file=sys.stderr)
    sys.exit(1)
