"""The configuration tree: defaults, TOML, WDP_* variables, overrides; one-line errors."""

import pytest

from wdp.config import Config, ConfigError, load_config


def test_defaults_are_a_working_config():
    cfg = load_config(environ={})
    assert cfg == Config()
    assert cfg.server.port == 8000 and cfg.auth.algorithm == "HS256"


def test_file_then_environment_then_overrides(tmp_path):
    path = tmp_path / "wdp.toml"
    path.write_text(
        '[server]\nport = 9000\nhost = "0.0.0.0"\n'
        '[environments.room_001.routers.r1]\nsource = "udp://0.0.0.0:5500?format=nexmon"\n'
    )
    cfg = load_config(path, environ={"WDP_SERVER__PORT": "9100", "WDP_AUTH__LEEWAY_S": "5"})
    assert (cfg.server.host, cfg.server.port, cfg.auth.leeway_s) == ("0.0.0.0", 9100, 5.0)
    assert cfg.environments["room_001"].routers["r1"].source.startswith("udp://")
    cfg = load_config(path, environ={"WDP_SERVER__PORT": "9100"}, overrides={"server": {"port": 1}})
    assert cfg.server.port == 1
    assert load_config(environ={"WDP_CONFIG": str(path)}).server.port == 9000


@pytest.mark.parametrize(
    "text, env, message",
    [
        ("[server]\nport = 70000\n", {}, "server.port: must be 0..65535, got 70000"),
        ("[server]\nport = '80'\n", {}, "server.port: must be int, got str"),
        ("[server]\nportt = 80\n", {}, "server: unknown field(s) portt"),
        ("colour = 1\n", {}, "(top level): unknown field(s) colour"),
        ("[auth]\nalgorithm = 'none'\n", {}, "auth.algorithm: must be one of HS256"),
        ("[auth]\nleeway_s = 300\n", {}, "auth.leeway_s: must be 0..30"),
        ("[environments.'a b']\n", {}, "environments: id 'a b' must be"),
        ("[environments.e.routers.r1]\n", {}, "environments.e.routers.r1"),
        ("port = \n", {}, "not valid TOML"),
        ("", {"WDP_SERVER__PORT": "x"}, "WDP_* environment: server.port: must be int"),
        ("", {"WDP_SERVER__MAX_MESSAGE_BYTES": "1e400"}, "server.max_message_bytes"),
    ],
)
def test_bad_config_is_one_clear_line(tmp_path, text, env, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as exc:
        load_config(path, environ=env)
    assert message in str(exc.value) and "\n" not in str(exc.value)
    assert str(exc.value).startswith(str(path))


def test_unreadable_and_binary_files(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.toml", environ={})
    junk = tmp_path / "junk.toml"
    junk.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(junk, environ={})
