"""Config changes for a running server: parsed, checked and applied all or nothing."""

import pytest

from wdp.config import load_config
from wdp.server.live_config import (
    LIVE_FIELDS,
    ConfigPatchError,
    apply_patch,
    flatten,
    parse_patch,
    pipeline_config,
    visible_config,
)

BASE = load_config(
    environ={},
    overrides={"environments": {"lab": {"routers": {"r1": {"source": "sim:one_walker"}}}}},
)


def refused(body, status, code):
    with pytest.raises(ConfigPatchError) as err:
        apply_patch(BASE, parse_patch(body))
    assert (err.value.status, err.value.code) == (status, code)
    return str(err.value)


def test_nested_and_dotted_fields_mix():
    change = parse_patch(
        b'{"detection": {"confidence_threshold": 0.8}, "analytics.enable_fall_detection": false}'
    )
    new, changed = apply_patch(BASE, change)
    assert changed == {
        "detection.confidence_threshold": 0.8,
        "analytics.enable_fall_detection": False,
    }
    assert new.detection.confidence_threshold == 0.8
    assert new.analytics.enable_fall_detection is False
    assert new.server == BASE.server and new.environments == BASE.environments


def test_unchanged_values_are_not_reported():
    new, changed = apply_patch(BASE, {"detection.confidence_threshold": 0.3})
    assert changed == {} and new == BASE


def test_lists_and_urls():
    new, changed = apply_patch(
        BASE,
        {"server.allowed_origins": ["https://a.example"], "analytics.alert_webhook": "http://h/x"},
    )
    assert new.server.allowed_origins == ("https://a.example",)
    assert changed["server.allowed_origins"] == ["https://a.example"]
    assert "http(s)" in refused(
        b'{"analytics": {"alert_webhook": "ftp://h"}}', 400, "INVALID_CONFIG"
    )


@pytest.mark.parametrize(
    ("body", "code", "words"),
    [
        (b"{nope", "INVALID_JSON", "not valid JSON"),
        (b"\xff\xfe", "INVALID_JSON", "not valid JSON"),
        (b"[1, 2]", "INVALID_CONFIG", "JSON object"),
        (b"{}", "INVALID_CONFIG", "non-empty"),
        (b'"detection"', "INVALID_CONFIG", "JSON object"),
        (b'{"a.b.c.d.e.f.g": 1}', "INVALID_CONFIG", "not a field path"),
        (b'{"detection..x": 1}', "INVALID_CONFIG", "not a field path"),
        (b'{"nope": 1}', "INVALID_CONFIG", "unknown field(s) nope"),
        (b'{"detection": {"threshold": 1}}', "INVALID_CONFIG", "unknown field(s) threshold"),
        (b'{"detection.confidence_threshold": 2}', "INVALID_CONFIG", "must be 0..1"),
        (b'{"detection.confidence_threshold": "high"}', "INVALID_CONFIG", "must be float"),
        (b'{"detection.confidence_threshold": null}', "INVALID_CONFIG", "detection"),
        (b'{"detection": 5}', "INVALID_CONFIG", "detection"),
        (b'{"analytics.window_s": 1e999}', "INVALID_JSON", "not valid JSON"),
        (b'{"server.max_connections": 1.5}', "INVALID_CONFIG", "must be int"),
        (b'{"analytics.enable_fall_detection": 1}', "INVALID_CONFIG", "must be bool"),
    ],
)
def test_bad_changes_are_refused_with_the_reason(body, code, words):
    assert words in refused(body, 400, code)


def test_fields_only_read_at_start_are_refused_whole():
    message = refused(
        b'{"server": {"port": 9000}, "auth.audience": "x", "detection.confidence_threshold": 0.9}',
        409,
        "RESTART_REQUIRED",
    )
    assert "auth.audience, server.port" in message and "confidence" not in message
    # a new environment or router source is a restart too
    refused(b'{"environments.hall.routers.r1.source": "sim:one_walker"}', 409, "RESTART_REQUIRED")
    refused(
        b'{"environments.lab.routers.r1.source": "sim:fall_and_recover"}', 409, "RESTART_REQUIRED"
    )


def test_every_live_field_exists_in_the_config():
    assert LIVE_FIELDS <= set(flatten(visible_config(BASE, lambda e: True)))


def test_visible_config_leaves_out_other_environments():
    assert set(visible_config(BASE, lambda e: True)["environments"]) == {"lab"}
    assert visible_config(BASE, lambda e: e == "hall")["environments"] == {}


def test_pipeline_config_follows_the_server_config():
    new, _ = apply_patch(
        BASE,
        {
            "detection.confidence_threshold": 0.7,
            "analytics.window_s": 30.0,
            "analytics.enable_fall_detection": False,
        },
    )
    p = pipeline_config(new)
    assert p.tracker.min_confidence == 0.7
    assert p.analytics.period_s == 30.0
    assert p.fall_detection is False
    # the defaults are the pipeline's own (replay and serve agree)
    assert pipeline_config(BASE) == type(p)()
