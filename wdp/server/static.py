"""Serving the files of a package directory (the dashboard) over the HTTP front door.

The request path is never joined onto a filesystem path as given: it is decoded once,
split into segments, and every segment must be a plain file name (no ``..``, no ``.``
prefix, no separators, no NUL or control characters, bounded length). Only files that
were in the directory when the server started are served: the table of files is built
once, so nothing written later, and nothing reached through a symbolic link out of the
directory, can be served. Anything else is a 404 that says nothing about the disk.

Caching: the HTML entry point is ``no-cache`` (a new server version is picked up on the
next load, revalidated by ETag); the other files are ``max-age=300`` with an ETag (a
content hash), and a matching ``If-None-Match`` gets 304 without a body.
"""

from __future__ import annotations

import hashlib
import urllib.parse
from collections.abc import Mapping
from pathlib import Path

import attrs

from wdp.server.http import Request, Response, Routes, error_response

#: Content types of the files a dashboard is made of; other extensions are not served.
CONTENT_TYPES: Mapping[str, str] = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".txt": "text/plain; charset=utf-8",
}
MAX_PATH_CHARS = 512
MAX_SEGMENT_CHARS = 128
MAX_SEGMENTS = 8
#: Headers every static reply carries: no sniffing, no framing by other sites, and a
#: content security policy that allows only this origin's scripts and WebSockets.
SECURITY_HEADERS = (
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "no-referrer"),
    (
        "content-security-policy",
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'none'; "
        "form-action 'none'",
    ),
)


@attrs.frozen(slots=True)
class StaticFile:
    body: bytes
    content_type: str
    etag: str
    cache_control: str


def _segments(path: str) -> list[str] | None:
    """The decoded, validated segments of a URL path below the mount, or None."""
    if len(path) > MAX_PATH_CHARS:
        return None
    try:
        decoded = urllib.parse.unquote(path, errors="strict")
    except UnicodeDecodeError:
        return None
    if "%" in decoded:
        return None  # double encoding (%252e): never decode twice, never serve it
    parts = decoded.split("/")
    if len(parts) > MAX_SEGMENTS:
        return None
    for part in parts:
        if (
            not part
            or part.startswith(".")
            or len(part) > MAX_SEGMENT_CHARS
            or "\\" in part
            or ":" in part
            or any(ord(c) < 32 or ord(c) == 127 for c in part)
        ):
            return None
    return parts


def load_files(directory: Path) -> dict[str, StaticFile]:
    """Every servable file under ``directory`` (relative POSIX path -> file), read once.
    Symbolic links and files with an unknown extension are left out."""
    root = directory.resolve()
    files: dict[str, StaticFile] = {}
    for path in sorted(root.rglob("*")):
        if path.is_symlink() or not path.is_file():
            continue
        rel = path.relative_to(root).as_posix()
        kind = CONTENT_TYPES.get(path.suffix.lower())
        if kind is None or _segments(rel) != rel.split("/"):
            continue
        body = path.read_bytes()
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        cache = "no-cache" if path.suffix == ".html" else "public, max-age=300"
        files[rel] = StaticFile(body, kind, etag, cache)
    return files


@attrs.define(slots=True)
class StaticSite:
    """A directory served under a URL prefix; ``/`` (and the prefix itself) is
    ``index.html``."""

    files: dict[str, StaticFile]
    prefix: str = "/"

    @classmethod
    def from_directory(cls, directory: Path, prefix: str = "/") -> StaticSite:
        return cls(load_files(directory), prefix)

    def lookup(self, path: str) -> StaticFile | None:
        if path in ("/", self.prefix, self.prefix.rstrip("/")):
            return self.files.get("index.html")
        if not path.startswith(self.prefix):
            return None
        parts = _segments(path[len(self.prefix) :])
        return None if parts is None else self.files.get("/".join(parts))

    async def handle(self, request: Request) -> Response:
        found = self.lookup(request.path)
        if found is None:
            return error_response(404, "no such resource")
        headers = (("etag", found.etag), ("cache-control", found.cache_control))
        headers += SECURITY_HEADERS
        matches = request.headers.get("if-none-match", "")
        if found.etag in (tag.strip() for tag in matches.split(",")):
            return Response(304, b"", found.content_type, headers)
        return Response(200, found.body, found.content_type, headers)


def dashboard_directory() -> Path:
    """Where the dashboard's files are installed (package data of ``wdp.dashboard``)."""
    return Path(__file__).resolve().parent.parent / "dashboard"


#: Where the dashboard's files are served; ``/`` is its page.
DASHBOARD_PREFIX = "/dashboard/"


def mount_dashboard(routes: Routes) -> StaticSite:
    """Serve the dashboard: ``/`` is its page, its files are under ``/dashboard/``."""
    site = StaticSite.from_directory(dashboard_directory(), DASHBOARD_PREFIX)
    routes.add("GET", "/", site.handle)
    routes.add_prefix(DASHBOARD_PREFIX, site.handle)
    return site
