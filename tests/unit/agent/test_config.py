from __future__ import annotations

from pathlib import Path

import pytest

from hostpulse_agent.config import ConfigError, load_config

REQUIRED = {"HOSTPULSE_AGENT_INGEST_URL": "https://ingest.example/v1/ingest",
            "HOSTPULSE_AGENT_TOKEN": "hp_t"}  # fmt: skip


def toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "agent.toml"
    path.write_text(text)
    return path


def test_file_then_environment_then_flags(tmp_path: Path) -> None:
    path = toml(
        tmp_path,
        'ingest_url = "https://a.example/v1/ingest"\ntoken = "hp_file"\n'
        'interval_s = 2\nsend_every_s = 20\ntop_n = 3\nlabels = {rack = "r1"}\n',
    )
    env = {"HOSTPULSE_AGENT_INTERVAL_S": "3", "HOSTPULSE_AGENT_TOKEN": "hp_env"}

    config = load_config(path, env, {"interval_s": 4, "agent_id": "web-1"})

    assert (config.interval_s, config.send_every_s, config.top_n) == (4.0, 20.0, 3)
    assert (config.token, config.agent_id, dict(config.labels)) == (
        "hp_env",
        "web-1",
        {"rack": "r1"},
    )


def test_a_token_can_come_from_a_file(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("hp_from_file\n")

    config = load_config(
        None,
        {
            **REQUIRED,
            "HOSTPULSE_AGENT_TOKEN": "",
            "HOSTPULSE_AGENT_TOKEN_FILE": str(tmp_path / "token"),
        },
        {},
    )

    assert config.token == "hp_from_file"


@pytest.mark.parametrize(
    ("file_text", "env", "flags", "message"),
    [
        (
            "intervl_s = 5\n",
            {},
            {},
            "unknown key 'intervl_s' in {path} (did you mean 'interval_s'?)",
        ),
        ("interval_s = -1\n", {}, {}, "interval_s: must be a number greater than 0"),
        ('interval_s = "five"\n', {}, {}, "interval_s: could not convert string to float"),
        ("", {"HOSTPULSE_AGENT_TOP_N": "many"}, {}, "$HOSTPULSE_AGENT_TOP_N"),
        ("", {"HOSTPULSE_AGENT_TLS_VERIFY": "maybe"}, {}, "tls_verify: must be true or false"),
        ('ingest_url = "ftp://x"\n', {}, {}, "ingest_url: must be an http:// or https:// URL"),
        ('groups = ["cpu", "gpu"]\n', {}, {}, "unknown group(s) gpu"),
        ('agent_id = "has space"\n', {}, {}, "agent_id: must be 1-63"),
        ('log_level = "LOUD"\n', {}, {}, "log_level: must be DEBUG"),
        ('labels = "rack"\n', {}, {}, "labels: must be key=value"),
        ('hostname = "has space"\n', {}, {}, "hostname: must be 1-253"),
        ("", {"HOSTPULSE_AGENT_HOSTNAME": "-lead"}, {}, "$HOSTPULSE_AGENT_HOSTNAME"),
        ('host_root = "/nonexistent"\n', {}, {}, "host_root: /nonexistent holds no proc/stat"),
        ("interval_s = [\n", {}, {}, "{path}: "),
        (
            "",
            {},
            {"interval_s": "0"},
            "interval_s: must be a number greater than 0 (got '0' from --interval_s)",
        ),
    ],
)
def test_every_mistake_names_the_key_and_its_source(
    tmp_path: Path, file_text: str, env: dict[str, str], flags: dict[str, str], message: str
) -> None:
    path = toml(tmp_path, file_text)

    with pytest.raises(ConfigError) as error:
        load_config(path, {**REQUIRED, **env}, flags)

    assert message.format(path=path) in str(error.value)


def test_missing_required_settings_say_where_to_set_them(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="ingest_url is required: set it in"):
        load_config(toml(tmp_path, ""), {}, {})
    with pytest.raises(ConfigError, match="token or token_file is required"):
        load_config(toml(tmp_path, 'ingest_url = "http://x/v1/ingest"\n'), {}, {})


def test_an_explicit_file_must_exist_but_the_default_may_not(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml", REQUIRED, {})
    with pytest.raises(ConfigError, match="token_file: cannot read"):
        load_config(
            None,
            {
                **REQUIRED,
                "HOSTPULSE_AGENT_TOKEN": "",
                "HOSTPULSE_AGENT_TOKEN_FILE": str(tmp_path / "none"),
            },
            {},
        )


def test_a_container_names_its_host_and_measures_it_through_its_root(tmp_path: Path) -> None:
    host = tmp_path / "host"
    (host / "proc").mkdir(parents=True)
    (host / "proc" / "stat").write_text("cpu 1 2 3 4\n")
    env = {**REQUIRED, "HOSTPULSE_AGENT_HOSTNAME": "node-7", "HOSTPULSE_AGENT_HOST_ROOT": str(host)}

    config = load_config(toml(tmp_path, ""), env, {})
    pinned = load_config(toml(tmp_path, ""), env, {"agent_id": "nodes.node-7"})

    assert (config.hostname, config.agent_id, config.host_root) == ("node-7", "node-7", host)
    assert pinned.agent_id == "nodes.node-7"
