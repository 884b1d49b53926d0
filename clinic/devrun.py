"""`make run`: migrate, seed the demo, then run the web server, a Celery worker and Celery beat
until Ctrl-C, which stops all three cleanly. Expects DATABASE_URL and REDIS_URL (see devservices)."""

import os
import signal
import subprocess
import sys
import time
import urllib.request

PYTHON = sys.executable
HOST = os.environ.get("HOST", "127.0.0.1")
PORT = os.environ.get("PORT", "8000")

DEMO_LOGINS = """
  MedFit is running at http://{host}:{port}/

  Demo logins (password: medfit-demo), in clinics "riverside" and "northside":
    admin@riverside.example          physiologist@riverside.example
    physician@riverside.example      billing@riverside.example
    (and the same four roles @northside.example)

  Press Ctrl-C to stop.
"""


def manage(*args):
    subprocess.run([PYTHON, "manage.py", *args], check=True)


def wait_until_healthy(url: str, seconds: int = 60) -> bool:
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (our own local server)
                if response.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.5)
    return False


def main() -> int:
    manage("migrate", "--noinput")
    manage("seed_demo")
    manage("collectstatic", "--noinput", "--verbosity", "0")
    commands = {
        "web": [PYTHON, "-m", "gunicorn", "clinic.wsgi", "--bind", f"{HOST}:{PORT}", "--workers", "2",
                "--threads", "4", "--graceful-timeout", "10"],
        "worker": [PYTHON, "-m", "celery", "-A", "clinic", "worker", "--loglevel", "INFO", "--concurrency", "2"],
        "beat": [PYTHON, "-m", "celery", "-A", "clinic", "beat", "--loglevel", "INFO"],
    }  # fmt: skip
    # Own process groups: Ctrl-C reaches only us, and we stop the children in order.
    children = {name: subprocess.Popen(cmd, start_new_session=True) for name, cmd in commands.items()}
    stopping = False

    def stop(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    if wait_until_healthy(f"http://{HOST}:{PORT}/healthz"):
        print(DEMO_LOGINS.format(host=HOST, port=PORT), flush=True)
    else:
        print("MedFit started, but /healthz did not report healthy within 60 s.", flush=True)
    exit_code = 0
    while not stopping:
        for name, child in children.items():
            if child.poll() is not None:
                print(f"{name} exited with code {child.returncode}; stopping.", flush=True)
                stopping, exit_code = True, 1
        time.sleep(0.5)
    print("Stopping web, worker and beat…", flush=True)
    for child in children.values():
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    for child in children.values():
        try:
            child.wait(timeout=20)
        except subprocess.TimeoutExpired:
            child.kill()
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
