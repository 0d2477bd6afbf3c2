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


def test_source_mac_binds_one_transmitter_or_splits_into_streams():
    one = parse_source(
        "udp://0.0.0.0:5500?format=nexmon&router_id=pi-1&source_mac=B8:27:EB:03:E1:9F"
    )
    assert one.source_macs == ("b8:27:eb:03:e1:9f",)
    assert one.streams == {"b8:27:eb:03:e1:9f": "pi-1"} and one.router_ids == ["pi-1"]
    assert one.url.endswith("&source_mac=b8:27:eb:03:e1:9f")
    two = parse_source(
        "udp://0.0.0.0:5500?format=esp32&router_id=pi-1"
        "&source_mac=b8:27:eb:03:e1:9f,ec-41-18-4c-1f-6a"
    )
    assert two.router_ids == ["pi-1.b827eb03e19f", "pi-1.ec41184c1f6a"]
    for url in (
        "udp://0.0.0.0:5500?format=nexmon",
        "udp://0.0.0.0:5500?format=nexmon&source_mac=any",
    ):
        s = parse_source(url, router_id="r")
        assert s.source_macs == () and s.streams == {"": "r"} and s.router_ids == ["r"]


@pytest.mark.parametrize(
    "query, fragment",
    [
        ("format=nexmon&source_mac=b8:27:eb", "not a MAC address"),
        ("format=intel5300&source_mac=b8:27:eb:03:e1:9f", "intel5300 frames carry no transmitter"),
        ("format=nexmon&source_mac=b8:27:eb:03:e1:9f,B8:27:EB:03:E1:9F", "twice"),
        ("format=nexmon&router_id=" + "x" * 60 + "&source_mac=b8:27:eb:03:e1:9f,aa:bb:cc:dd:ee:ff",
         "for source_mac must be"),
    ],
)  # fmt: skip
def test_bad_source_mac_names_router_and_setting(query, fragment):
    with pytest.raises(SourceError, match=fragment) as info:
        parse_source("udp://127.0.0.1:5500?" + query)
    assert "source_mac" in str(info.value)
