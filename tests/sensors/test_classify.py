from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from teiten.sensors.classify import CLASSIFIERS, PROTOCOLS, classify

from . import samples as s


@pytest.mark.parametrize(
    ("data", "protocol"),
    [
        (s.HTTP, "http"), (s.SSH, "ssh"), (s.SIP, "sip"), (s.RDP, "rdp"), (s.SMB1, "smb"),
        (s.SMB2, "smb"), (s.TELNET, "telnet"), (s.REDIS_RESP, "redis"),
        (s.REDIS_INLINE, "redis"), (s.MSSQL, "mssql"), (s.MYSQL, "mysql"), (s.PG, "postgresql"),
        (s.PG_SSL, "postgresql"), (s.MONGO_QUERY, "mongodb"), (s.MONGO_MSG, "mongodb"),
        (s.tls_client_hello(), "tls"), (s.tns_connect(), "tns"), (s.GARBAGE, "raw"),
        (b"", "empty"),
    ],
)
def test_protocol_is_recognised(data: bytes, protocol: str) -> None:
    assert classify(data).protocol == protocol


def test_http_fields() -> None:
    f = classify(s.HTTP).fields
    assert (f["method"], f["path"], f["host"]) == ("GET", "/cgi-bin/luci", "10.77.0.2:80")
    assert f["user_agent"] == "Mozilla/5.0 zgrab/0.x"


def test_http_truncated_request_line_still_http() -> None:
    c = classify(b"GET /index.ht")
    assert (c.protocol, c.fields["path"]) == ("http", "/index.ht")


def test_sip_options_is_not_http() -> None:
    assert classify(s.SIP).fields["user_agent"] == "friendly-scanner"


def test_ssh_software() -> None:
    assert classify(s.SSH).fields == {"banner": "SSH-2.0-Go", "proto": "2.0", "software": "Go"}


def test_tls_sni_alpn_version() -> None:
    f = classify(s.tls_client_hello("scan.example")).fields
    assert (f["sni"], f["alpn"], f["version"]) == ("scan.example", "h2", "13")


def test_tls_ja4_shape_and_grease_ignored() -> None:
    ja4 = classify(s.tls_client_hello()).fields["ja4"]
    head, ch, eh = ja4.split("_")
    assert head == "t13d0404h2"  # 4 ciphers and 4 extensions once GREASE is dropped
    assert len(ch) == len(eh) == 12


def test_tls_ja4_depends_on_sni_presence_not_value() -> None:
    a = classify(s.tls_client_hello("a.example")).fields["ja4"]
    b = classify(s.tls_client_hello("b.example")).fields["ja4"]
    assert a == b


def test_tls_truncated_hello_has_no_fingerprint() -> None:
    f = classify(s.tls_client_hello()[:60]).fields
    assert f["truncated"] == "1" and "ja4" not in f


def test_tns_fields() -> None:
    f = classify(s.tns_connect("nmap")).fields
    assert (f["program"], f["host"], f["user"], f["service_name"]) == (
        "nmap", "WIN-SCAN", "Administrator", "ORCL")
    assert f["version"] == "314"


def test_tns_descriptor_cut_short_keeps_what_was_sent() -> None:
    data = s.tns_connect("sqlmap")
    cut = data[: data.index(b"(HOST=WIN")]
    f = classify(cut).fields
    assert f["program"] == "sqlmap" and "user" not in f


def test_rdp_cookie_and_protocols() -> None:
    f = classify(s.RDP).fields
    assert f == {"cookie": "mstshash=hello", "requested_protocols": "ssl,hybrid"}


def test_smb1_dialects() -> None:
    assert classify(s.SMB1).fields["dialects"] == "NT LM 0.12"


def test_smb2_dialects() -> None:
    assert classify(s.SMB2).fields["dialects"] == "0x0202,0x0210"


def test_telnet_options() -> None:
    assert classify(s.TELNET).fields["options"] == "DO 24,DO 32,WILL 31"


def test_redis_command() -> None:
    assert classify(s.REDIS_RESP).fields["command"] == "INFO"


def test_mssql_client_version() -> None:
    assert classify(s.MSSQL).fields["client_version"] == "15.0.2000"


def test_mysql_user() -> None:
    assert classify(s.MYSQL).fields["user"] == "root"


def test_postgres_startup_user() -> None:
    f = classify(s.PG).fields
    assert (f["packet"], f["user"], f["database"]) == ("startup", "postgres", "postgres")


def test_mongodb_command() -> None:
    assert classify(s.MONGO_QUERY).fields["command"] == "isMaster"
    assert classify(s.MONGO_MSG).fields["command"] == "isMaster"


def test_control_characters_are_escaped() -> None:
    f = classify(b"GET /\x1b[31m HTTP/1.1\r\nUser-Agent: a\x00b\r\n\r\n").fields
    assert f["path"] == "/\\x1b[31m" and f["user_agent"] == "a\\x00b"


ALL = [s.HTTP, s.SSH, s.SIP, s.RDP, s.SMB1, s.SMB2, s.TELNET, s.REDIS_RESP, s.MSSQL, s.MYSQL,
       s.PG, s.MONGO_QUERY, s.MONGO_MSG, s.tls_client_hello(), s.tns_connect()]


@pytest.mark.parametrize("sample", ALL)
def test_every_truncation_classifies_without_error(sample: bytes) -> None:
    for n in range(len(sample) + 1):
        for _name, fn in CLASSIFIERS:
            fn(sample[:n])  # must not raise
        assert classify(sample[:n]).protocol in PROTOCOLS


@settings(max_examples=400, deadline=None, derandomize=True)
@given(st.binary(max_size=600))
def test_never_raises_on_random_bytes(data: bytes) -> None:
    for _name, fn in CLASSIFIERS:
        got = fn(data)
        assert got is None or all(isinstance(v, str) for v in got.values())


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.sampled_from(ALL), st.binary(max_size=40), st.integers(0, 400))
def test_never_raises_on_corrupted_samples(sample: bytes, junk: bytes, at: int) -> None:
    data = sample[:at] + junk + sample[at + len(junk):]
    for _name, fn in CLASSIFIERS:
        fn(data)
