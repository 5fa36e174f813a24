"""The sensor registry."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from teiten.core.errors import ConfigError
from teiten.core.sensors import Registry, check_sensor_id

REG = """
[[sensor]]
id = "tk-01"
name = "Tokyo 1"
addresses = ["203.0.113.0/30", "2001:db8::/126"]
kind = "responsive"
country = "jp"
timezone = "Asia/Tokyo"
match = ["*/tk-01/*"]
interfaces = ["eth1"]
[[sensor.address_history]]
cidr = "198.51.100.7/32"
from = 2026-10-01T00:00:00Z
until = 2026-10-15T00:00:00Z
[[sensor.maintenance]]
start = 2026-10-05T00:00:00+09:00
end = 2026-10-06T00:00:00+09:00
reason = "line work"

[[sensor]]
id = "tk-02"
"""


def test_registry_reads_every_field() -> None:
    reg = Registry.from_toml_text(REG)
    s = reg["tk-01"]
    assert s.kind == "responsive" and s.country == "JP" and s.timezone == "Asia/Tokyo"
    assert s.address_count() == 4 + 4 + 1
    assert s.maintenance[0].start.isoformat() == "2026-10-04T15:00:00+00:00"
    assert reg.for_path("/cap/tk-01/x.pcap") is s and reg.for_path("/cap/x.pcap") is None
    assert reg.for_interface("eth1") is s
    assert reg["tk-02"].monitors_everything


def test_round_trip_through_toml() -> None:
    reg = Registry.from_toml_text(REG)
    again = Registry.from_toml_text(reg.to_toml())
    assert again["tk-01"] == reg["tk-01"] and again["tk-02"] == reg["tk-02"]


def test_monitored_v4_respects_cidrs_and_validity() -> None:
    s = Registry.from_toml_text(REG)["tk-01"]
    oct2 = 1_790_899_200 * 10**9
    dst = np.array([0xCB007100, 0xCB007103, 0xCB007104, 0xC6336407, 0xC6336407], np.uint32)
    ts = np.array([oct2, oct2, oct2, oct2, oct2 + 20 * 86400 * 10**9], np.int64)
    assert s.monitored_v4(dst, ts).tolist() == [True, True, False, True, False]


def test_monitored_v6() -> None:
    s = Registry.from_toml_text(REG)["tk-01"]
    import ipaddress

    addrs = [ipaddress.IPv6Address(a).packed for a in ("2001:db8::3", "2001:db8::4")]
    got = s.monitored_v6(np.frombuffer(b"".join(addrs), np.uint8).reshape(2, 16),
                         np.zeros(2, np.int64))
    assert got.tolist() == [True, False]


@pytest.mark.parametrize(("text", "msg"), [
    ('[[sensor]]\nid = "../x"\n', "id"),
    ('[[sensor]]\nid = "a"\naddresses = ["300.1.1.1/32"]\n', "not a CIDR"),
    ('[[sensor]]\nid = "a"\ntimezone = "Mars/Base"\n', "time zone"),
    ('[[sensor]]\nid = "a"\nkind = "active"\n', "kind"),
    ('[[sensor]]\nid = "a"\ncolour = 1\n', "unknown keys"),
    ('[[sensor]]\nid = "a"\n[[sensor]]\nid = "a"\n', "duplicate"),
    ('sensor = 3', "array of tables"),
    ('[[sensor]\n', "reg.toml"),
])
def test_bad_registries_name_the_problem(text: str, msg: str) -> None:
    with pytest.raises(ConfigError, match=msg):
        Registry.from_toml_text(text, source="reg.toml")


def test_missing_registry_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        Registry.load(tmp_path / "nope.toml")


def test_sensor_ids_are_safe_directory_names() -> None:
    assert check_sensor_id("a.b-c_1") == "a.b-c_1"
    for bad in ("..", "a/b", "", ".x"):
        with pytest.raises(ConfigError):
            check_sensor_id(bad)


def test_open_ended_address_history_stays_open_through_toml() -> None:
    reg = Registry.from_toml_text(
        '[[sensor]]\nid = "a"\n[[sensor.address_history]]\ncidr = "192.0.2.1/32"\n'
        "until = 2026-10-15T00:00:00Z\n"
    )
    text = reg.to_toml()
    assert "from" not in text and "until = " in text
    assert Registry.from_toml_text(text)["a"] == reg["a"]
