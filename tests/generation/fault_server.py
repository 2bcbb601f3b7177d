"""A tiny OpenAI-compatible server on 127.0.0.1 that misbehaves on purpose.

The requested model name picks the behaviour:

- `ok`: answers at once; `slow`: answers after SLOW seconds (to count concurrent requests);
- `rate-limited`: the first request for a prompt gets 429 with `Retry-After: 2`, then answers;
- `server-error`: the first request for a prompt gets 500, then answers;
- `hang`: the first request for a prompt sleeps HANG seconds (past the client's timeout);
- `unauthorized`: always 401, echoing the key it was sent (as some servers do);
- `no-such-model`: always 404.

It counts requests per (model, prompt, seed) and the most requests in flight per model.
"""

import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SLOW = 0.3
HANG = 3.0


class JSONHandler(BaseHTTPRequestHandler):
    """Quiet HTTP/1.1 handler that answers JSON; a client that gave up is no error."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # keep the test output quiet
        pass

    def _send(self, status: int, payload: dict, headers: dict | None = None) -> None:
        data = json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout or hang case)


class FaultServer:
    def __init__(self, *, slow: float = SLOW, hang: float = HANG) -> None:
        self.slow = slow
        self.hang = hang
        self.lock = threading.Lock()
        self.attempts: Counter = Counter()
        self.in_flight: Counter = Counter()
        self.max_in_flight: Counter = Counter()
        self.log: list[dict] = []
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __enter__(self) -> "FaultServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def reset(self) -> None:
        with self.lock:
            self.attempts.clear()
            self.in_flight.clear()
            self.max_in_flight.clear()
            self.log.clear()

    def requests_for(self, model: str) -> list[dict]:
        with self.lock:
            return [r for r in self.log if r["model"] == model]

    def _handler(self):
        server = self

        class Handler(JSONHandler):
            def do_GET(self) -> None:
                self._send(200, {"object": "list", "data": [{"id": "ok"}]})

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                model = body.get("model", "")
                prompt = body["messages"][-1]["content"]
                seed = body.get("seed")
                key = (model, prompt, seed)
                with server.lock:
                    server.attempts[key] += 1
                    attempt = server.attempts[key]
                    server.in_flight[model] += 1
                    server.max_in_flight[model] = max(
                        server.max_in_flight[model], server.in_flight[model]
                    )
                    server.log.append(
                        {"model": model, "prompt": prompt, "seed": seed, "attempt": attempt,
                         "at": time.monotonic(), "body": body}
                    )  # fmt: skip
                try:
                    self._answer(model, prompt, seed, attempt, body)
                finally:
                    with server.lock:
                        server.in_flight[model] -= 1

            def _answer(self, model, prompt, seed, attempt, body) -> None:
                if model == "unauthorized":
                    sent = self.headers.get("authorization", "").removeprefix("Bearer ")
                    message = f"Incorrect API key provided: {sent}. Find your key at example.com."
                    return self._send(401, {"error": {"message": message, "code": "invalid_key"}})
                if model == "no-such-model":
                    message = f"The model `{model}` does not exist."
                    return self._send(404, {"error": {"message": message}})
                if model == "rate-limited" and attempt == 1:
                    return self._send(
                        429, {"error": {"message": "Rate limit reached"}}, {"Retry-After": "2"}
                    )
                if model == "server-error" and attempt == 1:
                    return self._send(500, {"error": {"message": "upstream overloaded"}})
                if model == "hang" and attempt == 1:
                    time.sleep(server.hang)
                if model == "slow":
                    time.sleep(server.slow)
                temperature = body.get("temperature")
                text = f"[{model}] answer to: {prompt} (seed {seed}, temperature {temperature})"
                self._send(
                    200,
                    {
                        "id": f"chatcmpl-{attempt}",
                        "object": "chat.completion",
                        "model": f"{model}-served",
                        "choices": [
                            {"index": 0, "message": {"role": "assistant", "content": text},
                             "finish_reason": "stop"}
                        ],
                        "usage": {"prompt_tokens": 7, "completion_tokens": 11, "total_tokens": 18},
                    },
                )  # fmt: skip

        return Handler
