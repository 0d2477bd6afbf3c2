import pytest

from wdp.capture.source import SourceError, parse_source


def test_parses_url_with_parameters():
    s = parse_source("udp://0.0.0.0:5500?format=nexmon&router_id=r1&environment_id=lab&timeout=2")
    assert (s.host, s.port, s.format, s.router_id, s.environment_id, s.silence_timeout_s) == (
        "0.0.0.0",
        5500,
        "nexmon",
        "r1",
        "lab",
        2.0,
    )


def test_defaults_and_overrides():
    s = parse_source("udp://127.0.0.1:5600?format=esp32-bin", router_id="kitchen")
    assert s.router_id == "kitchen"
    assert s.environment_id == "default"
    assert parse_source("udp://127.0.0.1:5600?format=esp32").router_id == "udp-5600"


@pytest.mark.parametrize(
    "url, fragment",
    [
        ("tcp://1.2.3.4:5?format=nexmon", "unsupported source"),
        ("udp://127.0.0.1?format=nexmon", "needs a host and a port"),
        ("udp://127.0.0.1:99999?format=nexmon", "bad port"),
        ("udp://127.0.0.1:5500", "needs format="),
        ("udp://127.0.0.1:5500?format=wifi9000", "needs format="),
        ("udp://127.0.0.1:5500?format=nexmon&format=esp32", "given 2 times"),
        ("udp://127.0.0.1:5500?format=nexmon&colour=red", "unknown source parameter"),
        ("udp://127.0.0.1:5500?format=nexmon&timeout=soon", "must be a number"),
        ("udp://127.0.0.1:5500?format=nexmon&timeout=nan", "must be in"),
        ("udp://127.0.0.1:5500?format=nexmon&timeout=-1", "must be in"),
        ("udp://127.0.0.1:5500?format=nexmon&router_id=../../etc", "router_id"),
        ("udp://127.0.0.1:5500?format=nexmon&environment_id=" + "x" * 65, "environment_id"),
        ("udp://127.0.0.1:5500?format=nexmon&x=" + "y" * 3000, "longer than"),
        ("", "unsupported source"),
    ],
)
def test_refuses_bad_urls_with_a_clear_message(url, fragment):
    with pytest.raises(SourceError, match=fragment.replace("(", r"\(").replace("=", "=")):
        parse_source(url)
