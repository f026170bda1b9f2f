"""A stand-in for a NetBox server: replays recorded API responses on 127.0.0.1.

NetBox itself cannot be installed here. This server answers the REST calls
pynetbox makes from the recorded responses in tests/fixtures/netbox/ (one
file per list endpoint, as NetBox returns it), and behaves as NetBox does
where the client depends on it: token authentication (403 with a JSON
detail otherwise), the API-Version header, limit/offset pagination with
absolute ``next`` links built from the request's Host, and the recorded
server's address replaced by its own in every URL.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "netbox"
RECORDED_BASE = "https://netbox.example.net"
API_VERSION = "4.1"


class NetboxReplay:
    """``with NetboxReplay(token="...") as nb: nb.url`` — a NetBox API on an ephemeral loopback port."""

    def __init__(self, token: str = "0123456789abcdef0123456789abcdef01234567", max_page_size: int = 2,
                 fixtures: Path = FIXTURES, fail: dict[str, int] | None = None) -> None:
        self.token = token
        self.max_page_size = max_page_size
        self.fixtures = fixtures
        self.fail = fail or {}  # path → HTTP status to answer instead
        self.requests: list[str] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> NetboxReplay:
        replay = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                replay.requests.append(self.path)
                status, body, headers = replay.answer(self.path, self.headers.get("Authorization"),
                                                      self.headers.get("Host") or "")
                data = json.dumps(body).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("API-Version", API_VERSION)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        assert self._server is not None and self._thread is not None
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    # -- what NetBox would answer ------------------------------------------------------

    def answer(self, raw_path: str, authorization: str | None, host: str) -> tuple[int, Any, dict[str, str]]:
        parts = urlsplit(raw_path)
        path = parts.path if parts.path.endswith("/") else parts.path + "/"
        if path in self.fail:
            return self.fail[path], {"detail": "recorded failure"}, {}
        if authorization != f"Token {self.token}":
            return 403, {"detail": "Invalid v1 token"}, {}
        base = f"http://{host}"
        if path == "/api/":
            return 200, self._load("api-root.json", base), {}
        if path == "/api/status/":
            return 200, {"netbox-version": f"{API_VERSION}.4", "python-version": "3.12.3", "plugins": {}}, {}
        name = path.strip("/").removeprefix("api/").replace("/", "-") + ".json"
        if not (self.fixtures / name).is_file():
            return 404, {"detail": "Not found."}, {}
        recorded = self._load(name, base)
        query = parse_qs(parts.query)
        results = recorded["results"]
        limit = int(query.get("limit", ["50"])[0])
        offset = int(query.get("offset", ["0"])[0])
        limit = self.max_page_size if limit == 0 else min(limit, self.max_page_size)
        page = results[offset : offset + limit]
        following = offset + limit
        next_url = f"{base}{parts.path}?limit={limit}&offset={following}" if following < len(results) else None
        previous = f"{base}{parts.path}?limit={limit}&offset={max(0, offset - limit)}" if offset else None
        return 200, {"count": len(results), "next": next_url, "previous": previous, "results": page}, {}

    def _load(self, name: str, base: str) -> Any:
        text = (self.fixtures / name).read_text("utf-8")
        return json.loads(text.replace(RECORDED_BASE, base))
