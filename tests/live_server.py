"""Start the real gateway (gunicorn, gevent worker, embedded store) as a subprocess for black-box tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LiveServer:
    base_url: str
    process: subprocess.Popen
    log_path: Path

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        self.process.send_signal(signal.SIGINT)  # gunicorn: quick shutdown (SIGTERM waits for keep-alives)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def start(env: dict[str, str], log_path: Path, timeout: float = 30.0) -> LiveServer:
    """gunicorn -c gunicorn.conf.py wsgi:app with ``env`` on top of the test process environment."""
    port = free_port()
    full_env = {**os.environ, **env, "PORT": str(port)}
    bin_dir = Path(sys.executable).parent
    full_env["PATH"] = f"{bin_dir}{os.pathsep}{full_env.get('PATH', '')}"
    log = log_path.open("wb")
    process = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"],
                               cwd=ROOT, env=full_env, stdout=log, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    client = requests.Session()
    client.trust_env = False
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("gateway exited at start:\n" + log_path.read_text(errors="replace"))
        try:
            if client.get(base_url + "/ready", timeout=1).status_code == 200:
                return LiveServer(base_url, process, log_path)
        except requests.RequestException:
            pass
        time.sleep(0.1)
    process.kill()
    raise RuntimeError("gateway did not become ready:\n" + log_path.read_text(errors="replace"))
