"""The Debian packages `make run` and `make test` need, installed when this machine lets us.

`make run` needs WeasyPrint's libraries and a font; `make test` also Chromium (browser tests) and
poppler (the tests read rendered PDFs). Missing ones are installed with apt-get when we run as root or
with passwordless sudo; otherwise the apt-get line is printed and make stops, so a fresh machine needs
no extra step wherever it can have none. Standard library only: .ci/run calls it before .venv exists.

    python3 tests/system_packages.py run|test
"""

import os
import shutil
import subprocess
import sys

RUN = ["libpango-1.0-0", "libpangoft2-1.0-0", "libharfbuzz0b", "fonts-dejavu-core"]
TEST = [*RUN, "chromium", "poppler-utils"]


def is_installed(package: str) -> bool:
    # "install ok installed" (or "hold ok installed"); a removed package reads "deinstall ok config-files".
    query = ["dpkg-query", "-W", "-f=${Status}", package]
    return subprocess.run(query, capture_output=True, text=True).stdout.endswith(" installed")  # noqa: S607 (on PATH, as apt-get is)


def sudo_prefix() -> list[str] | None:
    """How to run apt-get: [] as root, sudo when it needs no password, None when we may not."""
    if os.geteuid() == 0:
        return []
    if shutil.which("sudo") and subprocess.run(["sudo", "-n", "true"], capture_output=True).returncode == 0:  # noqa: S607 (on PATH, as apt-get is)
        return ["sudo", "-n"]
    return None


def install_commands(packages: list[str], prefix: list[str]) -> list[list[str]]:
    # The package lists of a fresh machine (or a container) may be empty or stale: update first.
    return [
        [*prefix, "apt-get", "update"],
        [*prefix, "env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y", *packages],
    ]


def main(packages: list[str]) -> int:
    if not shutil.which("dpkg-query"):
        print(f"Not a Debian system: make sure the equivalents of {' '.join(packages)} are installed.")
        return 0
    missing = [package for package in packages if not is_installed(package)]
    if not missing:
        return 0
    prefix = sudo_prefix()
    if prefix is not None:
        print(f"Installing the missing system packages: {' '.join(missing)}")
        if all(subprocess.run(command).returncode == 0 for command in install_commands(missing, prefix)):
            return 0
    print("Missing system packages. Install them with:", file=sys.stderr)
    print(f"    sudo apt-get install -y {' '.join(missing)}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    if sys.argv[1:] not in (["run"], ["test"]):
        sys.exit(__doc__)
    sys.exit(main(RUN if sys.argv[1] == "run" else TEST))
