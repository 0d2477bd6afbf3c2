"""Static files (the dashboard) through the real HTTP front door: the page, its modules,
content types and caching; traversal in every spelling and absurd paths are 404."""

import functools

import pytest
import trio

from wdp.server.http import ConnectionLimits, Routes, serve_http
from wdp.server.static import StaticSite, dashboard_directory, mount_dashboard


async def request(port, target, headers=""):
    """(status, headers dict, body) of one raw GET."""
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    async with stream:
        await stream.send_all(f"GET {target} HTTP/1.1\r\nHost: x\r\n{headers}\r\n".encode())
        data = b""
        with trio.fail_after(10):
            while chunk := await stream.receive_some(65536):
                data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    fields = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), {k.lower(): v for k, v in fields.items()}, body


@pytest.fixture
async def port(nursery):
    routes = Routes()
    mount_dashboard(routes)
    return await nursery.start(
        functools.partial(
            serve_http, routes, host="127.0.0.1", port=0, limits=ConnectionLimits(64, 64)
        )
    )


async def test_the_page_and_its_modules_are_served(port):
    status, headers, body = await request(port, "/")
    assert status == 200 and headers["content-type"] == "text/html; charset=utf-8"
    assert b'<script type="module" src="/dashboard/app.js">' in body
    assert headers["cache-control"] == "no-cache" and headers["x-content-type-options"] == "nosniff"
    assert "script-src 'self'" in headers["content-security-policy"]
    for name in ("app.js", "client.js", "render.js"):
        status, headers, body = await request(port, f"/dashboard/{name}")
        assert status == 200, name
        assert headers["content-type"] == "text/javascript; charset=utf-8"
        assert headers["cache-control"] == "public, max-age=300"
        assert body == (dashboard_directory() / name).read_bytes()
    status, headers, _ = await request(port, "/dashboard/style.css")
    assert status == 200 and headers["content-type"].startswith("text/css")


async def test_etag_revalidation_gives_304_without_a_body(port):
    _, headers, _ = await request(port, "/dashboard/app.js")
    status, again, body = await request(
        port, "/dashboard/app.js", f"If-None-Match: {headers['etag']}\r\n"
    )
    assert status == 304 and body == b"" and again["etag"] == headers["etag"]
    status, _, body = await request(port, "/dashboard/app.js", 'If-None-Match: "other"\r\n')
    assert status == 200 and body


@pytest.mark.parametrize(
    "target",
    [
        "/dashboard/../pyproject.toml",
        "/dashboard/../../etc/passwd",
        "/dashboard/%2e%2e/%2e%2e/etc/passwd",
        "/dashboard/%2E%2E%2Fapp.py",
        "/dashboard/..%2fserver%2fauth.py",
        "/dashboard/%252e%252e/app.js",
        "/dashboard/..\\__init__.py",
        "/dashboard/%5c..%5c__init__.py",
        "/dashboard/__init__.py",
        "/dashboard/.hidden",
        "/dashboard/app.js%00.css",
        "/dashboard/%ff%fe.js",
        "/dashboard//etc/passwd",
        "/dashboard/./app.js",
        "/dashboard/C:/Windows/win.ini",
        "/dashboard/" + "a/" * 50 + "app.js",
        "/dashboard/" + "x" * 2000 + ".js",
        "/dashboard/nope.js",
        "/index.html/../app.js",
        "/etc/passwd",
    ],
)
async def test_traversal_and_absurd_paths_are_404(port, target):
    status, headers, body = await request(port, target)
    assert status == 404, target
    assert headers["content-type"] == "application/json"
    assert b"root:" not in body and b"import" not in body


async def test_other_methods_on_static_paths_are_405(port):
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    async with stream:
        await stream.send_all(
            b"POST /dashboard/app.js HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"
        )
        data = b""
        with trio.fail_after(10):
            while chunk := await stream.receive_some(65536):
                data += chunk
    assert data.startswith(b"HTTP/1.1 405") and b"allow: GET" in data


def test_only_regular_files_of_known_types_inside_the_directory_are_loaded(tmp_path):
    (tmp_path / "index.html").write_text("<p>hi</p>")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.js").write_text("export {}")
    (tmp_path / "secret.py").write_text("KEY = 1")
    (tmp_path / ".env.js").write_text("x")
    outside = tmp_path.parent / f"{tmp_path.name}-outside.js"
    outside.write_text("outside")
    (tmp_path / "link.js").symlink_to(outside)
    site = StaticSite.from_directory(tmp_path, "/s/")
    assert sorted(site.files) == ["index.html", "sub/a.js"]
    assert site.lookup("/s/sub/a.js").body == b"export {}"
    assert site.lookup("/").body == b"<p>hi</p>" and site.lookup("/s").body == b"<p>hi</p>"
    assert site.lookup("/s/link.js") is None and site.lookup("/s/secret.py") is None
    assert site.lookup("/other/sub/a.js") is None
