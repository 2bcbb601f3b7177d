"""A tiny server on 127.0.0.1 speaking the OpenAI moderation API (`POST /v1/moderations`).

No real moderation server can be installed here, so screening is tested against this one.
Scores come from markers in the input: `[[hate]]` scores hate 0.93, `[[minors]]` scores
sexual/minors 0.97 (and sexual 0.88), `[[violence]]` scores violence 0.71; every other
category scores 0.01. The requested model picks a misbehaviour:

- `server-error`: the first request for an input gets 500, then it answers;
- `rate-limited`: the first request for an input gets 429 with `Retry-After: 1`;
- `hang`: the first request for an input sleeps `hang` seconds (past the client's timeout);
- `unauthorized`: always 401.
"""

import json
import time

from .fault_server import FaultServer, JSONHandler

CATEGORIES = (
    "harassment", "harassment/threatening", "hate", "hate/threatening", "illicit",
    "illicit/violent", "self-harm", "self-harm/intent", "self-harm/instructions", "sexual",
    "sexual/minors", "violence", "violence/graphic",
)  # fmt: skip
MARKERS = {
    "[[hate]]": {"hate": 0.93},
    "[[minors]]": {"sexual/minors": 0.97, "sexual": 0.88},
    "[[violence]]": {"violence": 0.71},
}


def scores_for(text: str) -> dict[str, float]:
    scores = dict.fromkeys(CATEGORIES, 0.01)
    for marker, marked in MARKERS.items():
        if marker in text:
            scores.update(marked)
    return scores


class ModerationServer(FaultServer):
    """The fault server's threads and counters, answering moderation requests instead."""

    def _handler(self):
        server = self

        class Handler(JSONHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                if self.path != "/v1/moderations":
                    return self._send(404, {"error": {"message": f"no route {self.path}"}})
                model, text = body.get("model", ""), body.get("input", "")
                with server.lock:
                    server.attempts[(model, text)] += 1
                    attempt = server.attempts[(model, text)]
                    server.log.append(
                        {"model": model, "input": text, "attempt": attempt,
                         "at": time.monotonic(), "auth": self.headers.get("authorization")}
                    )  # fmt: skip
                if model == "unauthorized":
                    return self._send(401, {"error": {"message": "Incorrect API key provided"}})
                if model == "server-error" and attempt == 1:
                    return self._send(500, {"error": {"message": "moderation overloaded"}})
                if model == "rate-limited" and attempt == 1:
                    return self._send(
                        429, {"error": {"message": "Rate limit reached"}}, {"Retry-After": "1"}
                    )
                if model == "hang" and attempt == 1:
                    time.sleep(server.hang)
                scores = scores_for(text)
                self._send(
                    200,
                    {
                        "id": f"modr-{attempt}",
                        "model": f"{model or 'omni-moderation'}-served",
                        "results": [
                            {
                                "flagged": any(v >= 0.5 for v in scores.values()),
                                "categories": {k: v >= 0.5 for k, v in scores.items()},
                                "category_scores": scores,
                            }
                        ],
                    },
                )

        return Handler
