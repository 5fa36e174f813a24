# ruff: noqa: E501  -- rule lines are kept verbatim, one rule per line, as in ET files
"""Loading whole rule files in ET Open / Snort community style."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from teiten.core.errors import InputError
from teiten.signatures.loader import RuleSet, load_rules, load_rules_text

# A realistic file: header comments, disabled rules, continuation lines, app-layer rules,
# flow-dependent rules, pcre, byte_test, broken rules — and rules teiten can evaluate.
ET_STYLE = r"""
# Emerging Threats
#
# This distribution may contain rules under two different licenses.
#
#alert tcp $EXTERNAL_NET any -> $HOME_NET 445 (msg:"ET EXPLOIT disabled"; flow:to_server; sid:2000001; rev:1;)
alert udp $EXTERNAL_NET any -> $HOME_NET 1434 (msg:"GPL SQL Slammer Worm propagation attempt"; content:"|04|"; depth:1; content:"|81 F1 03 01 04 9B 81 F1 01|"; content:"sock"; content:"send"; reference:bugtraq,5310; classtype:misc-attack; sid:2102003; rev:8; metadata:created_at 2010_09_23, updated_at 2019_07_26;)
alert udp $HOME_NET any -> $EXTERNAL_NET 1434 (msg:"GPL SQL Slammer Worm propagation attempt OUTBOUND"; content:"|04|"; depth:1; content:"|81 F1 03 01 04 9B 81 F1|"; content:"sock"; content:"send"; classtype:misc-attack; sid:2102004; rev:7;)
alert icmp $EXTERNAL_NET any -> $HOME_NET any (msg:"GPL ICMP_INFO PING CyberKit 2.2 Windows"; itype:8; content:"|AA AA AA AA AA AA AA AA AA AA AA AA AA AA AA AA|"; depth:32; classtype:misc-activity; sid:2100483; rev:7;)
# alert icmp $EXTERNAL_NET any -> $HOME_NET any (msg:"GPL ICMP Broadscan Smurf Scanner"; dsize:4; icmp_id:0; icmp_seq:0; itype:8; classtype:attempted-recon; sid:2100478; rev:5;)
alert icmp $EXTERNAL_NET any -> $HOME_NET any (msg:"GPL ICMP_INFO ICMP Large ICMP Packet"; dsize:>800; classtype:bad-unknown; sid:2100499; rev:5;)
alert tcp $EXTERNAL_NET any -> $HOME_NET any (msg:"ET SCAN NMAP -sS window 1024"; fragbits:!D; dsize:0; flags:S,12; ack:0; window:1024; threshold: type both, track by_dst, count 1, seconds 60; classtype:attempted-recon; sid:2009582; rev:3;)
alert tcp $EXTERNAL_NET any -> $HOME_NET any (msg:"ET SCAN Potential SSH Scan"; flow:to_server; flags:S,12; threshold: type both, track by_src, count 5, seconds 120; classtype:attempted-recon; sid:2001219; rev:20;)
alert tcp $EXTERNAL_NET any -> $HOME_NET 3306 (msg:"ET SCAN Suspicious inbound to mySQL port 3306"; flow:to_server; flags:S; threshold: type limit, count 5, seconds 60, track by_src; classtype:bad-unknown; sid:2010937; rev:3;)
alert tcp $EXTERNAL_NET any -> $HOME_NET 1433 (msg:"ET SCAN Suspicious inbound to MSSQL port 1433"; flags:S; threshold: type limit, count 5, seconds 60, track by_src; classtype:bad-unknown; sid:2010935; rev:3;)
alert tcp $EXTERNAL_NET any -> $HTTP_SERVERS $HTTP_PORTS (msg:"ET WEB_SERVER Possible SQL Injection"; flow:established,to_server; http.uri; content:"UNION"; nocase; content:"SELECT"; nocase; distance:0; classtype:web-application-attack; sid:2006446; rev:14;)
alert http $EXTERNAL_NET any -> $HOME_NET any (msg:"ET SCAN Nikto Web App Scan in Progress"; flow:to_server,established; http.user_agent; content:"Nikto"; classtype:web-application-attack; sid:2002677; rev:14;)
alert tcp $EXTERNAL_NET any -> $HOME_NET $HTTP_PORTS (msg:"ET WEB_SERVER cmd.exe in URI"; flow:to_server,established; content:"cmd.exe"; http_uri; nocase; classtype:attempted-admin; sid:2009361; rev:6;)
alert dns $HOME_NET any -> any any (msg:"ET DNS Query for .su TLD"; dns.query; content:".su"; endswith; classtype:bad-unknown; sid:2014169; rev:4;)
alert tls $EXTERNAL_NET any -> $HOME_NET any (msg:"ET POLICY TLS SNI"; tls.sni; content:"example"; sid:2030000; rev:1;)
alert tcp $EXTERNAL_NET any -> $HOME_NET 445 (msg:"ET EXPLOIT SMB pcre"; flow:to_server,established; content:"|FF|SMB"; pcre:"/\x00{4}/R"; sid:2030001; rev:1;)
alert tcp $EXTERNAL_NET any -> $HOME_NET 445 (msg:"ET EXPLOIT SMB byte_test"; content:"|FF|SMB"; offset:4; depth:4; byte_test:1,&,128,6,relative; sid:2030002; rev:1;)
alert udp $EXTERNAL_NET any -> $HOME_NET 53 (msg:"ET DNS byte_jump"; content:"|01 00|"; offset:2; depth:2; byte_jump:1,12; sid:2030003; rev:1;)
alert tcp $EXTERNAL_NET any -> $HOME_NET 23 (msg:"ET TROJAN flowbits set"; flow:established; content:"login"; flowbits:set,et.telnet; flowbits:noalert; sid:2030004; rev:1;)
alert tcp $EXTERNAL_NET any -> $HOME_NET any (msg:"ET POLICY isdataat"; content:"AB"; isdataat:10,relative; sid:2030005; rev:1;)
alert udp $EXTERNAL_NET any -> $HOME_NET 5060 (msg:"ET VOIP Modified Sipvicious User-Agent Detected (friendly-scanner)"; content:"|0d 0a|User-Agent|3A| friendly-scanner"; nocase; threshold: type limit, count 1, seconds 60, track by_src; classtype:attempted-recon; sid:2011716; rev:4;)
alert udp $EXTERNAL_NET any -> $HOME_NET 5060 (msg:"ET SCAN Sipvicious Scan"; content:"From|3A 20 22|sipvicious"; threshold: type limit, count 1, seconds 10, track by_src; \
    classtype:attempted-recon; sid:2008578; rev:6;)
alert tcp $EXTERNAL_NET any -> $HOME_NET 22 (msg:"ET SCAN SSH BruteForce Tool with fake PUTTY version"; flow:established,to_server; content:"SSH-2.0-PUTTY"; nocase; depth:13; classtype:network-scan; sid:2019876; rev:3;)
alert icmp $EXTERNAL_NET any -> $HOME_NET any (msg:"GPL ICMP_INFO PING NMAP"; dsize:0; itype:8; classtype:attempted-recon; sid:2100469; rev:4;)
alert icmp $EXTERNAL_NET any -> $HOME_NET any (msg:"GPL ICMP_INFO Address Mask Request"; icode:0; itype:17; classtype:misc-activity; sid:2100388; rev:6;)
alert icmp any any -> any any (msg:"GPL ICMP_INFO Timestamp Request"; icode:0; itype:13; classtype:misc-activity; sid:2100453; rev:6;)
alert tcp $EXTERNAL_NET any -> $HOME_NET any (msg:"GPL SCAN nmap XMAS"; flow:stateless; flags:FPU,12; reference:arachnids,30; classtype:attempted-recon; sid:2101228; rev:8;)
alert tcp $EXTERNAL_NET any -> $HOME_NET any (msg:"GPL SCAN nmap fingerprint attempt"; flow:stateless; flags:SFPU; reference:arachnids,05; classtype:attempted-recon; sid:2100629; rev:8;)
alert tcp $EXTERNAL_NET any -> $HOME_NET any (msg:"GPL SCAN NULL"; flow:stateless; ack:0; flags:0; seq:0; classtype:attempted-recon; sid:2100623; rev:7;)
alert tcp $EXTERNAL_NET 10101 -> $HOME_NET any (msg:"GPL SCAN myscan"; flow:stateless; ack:0; flags:S; ttl:>220; classtype:attempted-recon; sid:2101439; rev:7;)
alert udp $EXTERNAL_NET any -> $HOME_NET 1900 (msg:"ET SCAN UPnP M-SEARCH"; content:"M-SEARCH * HTTP/1.1"; depth:19; content:"ssdp|3a|discover"; nocase; distance:0; classtype:attempted-recon; sid:2030010; rev:1;)
alert udp $EXTERNAL_NET any -> $HOME_NET 137 (msg:"ET SCAN NBNS wildcard"; content:"|20 43 4b 41 41 41 41|"; offset:12; depth:7; classtype:attempted-recon; sid:2030011; rev:1;)
alert udp $EXTERNAL_NET any -> $HOME_NET 161 (msg:"GPL SNMP public access udp"; content:"public"; fast_pattern; classtype:attempted-recon; sid:2101411; rev:10;)
alert udp $EXTERNAL_NET any -> $HOME_NET 123 (msg:"ET DOS NTP monlist"; content:"|17 00 03 2a|"; depth:4; threshold: type both,track by_src,count 2,seconds 60; classtype:attempted-dos; sid:2017918; rev:2;)
alert udp $EXTERNAL_NET any -> $HOME_NET 11211 (msg:"ET DOS memcached stats"; content:"stats"; nocase; offset:8; depth:5; classtype:attempted-dos; sid:2025401; rev:3;)
alert tcp $EXTERNAL_NET any -> $HOME_NET [5900:5920] (msg:"ET SCAN VNC probe"; flags:S,12; classtype:attempted-recon; sid:2030012; rev:1;)
alert tcp $EXTERNAL_NET any -> $MISSING_SERVERS 80 (msg:"ET custom var"; flags:S; sid:2030013; rev:1;)
alert tcp $EXTERNAL_NET any -> $HOME_NET 80 (msg:"broken: no semicolon at end" sid:2030014)
alert tcp $EXTERNAL_NET any -> $HOME_NET 80 (msg:"broken content"; content:"|4|"; sid:2030015; rev:1;)
alert tcp $EXTERNAL_NET any $HOME_NET 80 (msg:"broken header"; sid:2030016; rev:1;)
alert ip any any -> any any (msg:"ET POLICY ip_proto GRE"; ip_proto:47; sid:2030017; rev:1;)
alert ip any any -> any any (msg:"duplicate"; ip_proto:47; sid:2030017; rev:1;)
alert tcp any any -> any any (msg:"ET SCAN negated"; content:"GET"; depth:3; content:!"Host|3a|"; distance:0; sid:2030018; rev:1;)
alert udp any any -> any 69 (msg:"GPL TFTP GET"; content:"|00 01|"; depth:2; content:"|00|"; distance:1; sid:2030019; rev:1;)
alert tcp any any <> any 6667 (msg:"ET POLICY IRC both ways"; content:"PRIVMSG "; sid:2030020; rev:1;)
alert tcp $EXTERNAL_NET any -> $HOME_NET 25 (msg:"ET SMTP sticky"; flow:to_server; file.data; content:"MZ"; sid:2030021; rev:1;)
alert tcp any any -> any any (msg:"ET ssl_state"; ssl_state:client_hello; sid:2030022; rev:1;)
alert tcp any any -> any any (msg:"ET urilen"; urilen:>100; sid:2030023; rev:1;)
alert tcp any any -> any any (msg:"ET stream_size"; stream_size:server,>,100; sid:2030024; rev:1;)
"""


@pytest.fixture(scope="module")
def loaded() -> RuleSet:
    return load_rules_text(ET_STYLE, source="emerging-test.rules")


def test_whole_file_loads_and_counts_add_up(loaded: RuleSet) -> None:
    s = loaded.summary()
    rules_in_file = sum(1 for line in ET_STYLE.splitlines()
                        if line.startswith("alert"))
    assert s["compiled"] + s["skipped"] == rules_in_file
    assert s["disabled"] == 2


def test_compiled_sids(loaded: RuleSet) -> None:
    sids = {r.rule.sid for r in loaded.rules}
    assert {2102003, 2102004, 2100483, 2100499, 2100469, 2101228, 2100623, 2030017, 2030018,
            2030019, 2030020, 2008578, 2011716} <= sids
    assert 2009582 in sids  # fragbits is supported (ip_flags column)
    assert 2030005 in sids  # isdataat is supported


@pytest.mark.parametrize(("sid", "reason"), [
    (2001219, "flow"), (2006446, "stream state"), (2002677, "app-layer protocol"),
    (2009361, "stream state"), (2014169, "app-layer protocol"), (2030001, "stream state"),
    (2030002, "byte_test"), (2030003, "byte_jump"),
    (2030013, "MISSING_SERVERS"), (2030015, "hex"), (2030016, "7 fields"),
    (2030021, "stream state"), (2030022, "ssl_state"), (2030023, "app-layer"),
    (2030024, "flow state"),
])
def test_skip_reasons(loaded: RuleSet, sid: int, reason: str) -> None:
    skipped = [s for s in loaded.skipped if s.sid == sid]
    assert skipped and reason in skipped[0].reason


def test_skips_carry_file_and_line(loaded: RuleSet) -> None:
    broken = next(s for s in loaded.skipped if s.sid == 2030016)
    assert broken.source == "emerging-test.rules"
    lines = ET_STYLE.splitlines()
    assert "broken header" in lines[broken.line - 1]
    assert broken.kind == "syntax"


def test_duplicate_sid_skipped(loaded: RuleSet) -> None:
    assert any("duplicate sid 2030017" in s.reason for s in loaded.skipped)


def test_continuation_line_joined(loaded: RuleSet) -> None:
    r = next(r for r in loaded.rules if r.rule.sid == 2008578)
    assert r.rule.classtype == "attempted-recon"


def test_summary_groups_reasons(loaded: RuleSet) -> None:
    reasons = loaded.summary()["reasons"]
    assert reasons["flow (needs stream state)"] >= 5


def test_missing_file_is_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError):
        load_rules([tmp_path / "nope.rules"])


def test_binary_garbage_does_not_crash(tmp_path: Path) -> None:
    f = tmp_path / "junk.rules"
    f.write_bytes(bytes(range(256)) * 4 + b"\nalert tcp any any -> any any (sid:1;)\n")
    rs = load_rules([f])
    assert len(rs.rules) == 1 and rs.skipped


SNORT_STYLE = r"""
alert tcp $EXTERNAL_NET any -> $HOME_NET 445 (msg:"OS-WINDOWS SMB"; flow:to_server,established; content:"|FF|SMB"; depth:5; offset:4; byte_test:1,&,128,6,relative; metadata:policy balanced-ips drop, service netbios-ssn; reference:cve,2008-4250; classtype:attempted-admin; sid:14782; rev:19;)
alert tcp $EXTERNAL_NET any -> $HOME_NET $HTTP_PORTS (msg:"SERVER-WEBAPP uricontent"; uricontent:"/cgi-bin/"; nocase; sid:1001; rev:1;)
alert http (msg:"SNORT3 service rule"; http_uri; content:"/x"; sid:1002; rev:1;)
alert icmp $EXTERNAL_NET any -> $HOME_NET any (msg:"PROTOCOL-ICMP PING"; icode:0; itype:8; sameip; sid:1003; rev:1;)
alert ip $EXTERNAL_NET any -> $HOME_NET any (msg:"PROTOCOL-OTHER not tcp"; ip_proto:!6; detection_filter:track by_src, count 5, seconds 60; sid:1004; rev:1;)
alert tcp $EXTERNAL_NET any -> $HOME_NET 23 (msg:"telnet"; flags:S; threshold:type limit, track by_src, count 1, seconds 60; sid:1005; rev:1;)
"""


def test_snort_community_style() -> None:
    rs = load_rules_text(SNORT_STYLE, source="community.rules")
    assert {r.rule.sid for r in rs.rules} == {1003, 1004, 1005}
    reasons = {s.sid: s.reason for s in rs.skipped}
    assert "stream state" in reasons[14782]
    assert "app-layer" in reasons[1001]
    assert "7 fields" in reasons[1002]


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list('alert tcp any->(); :"|!$[],0123SAFx\\#\n')),
               max_size=200))
def test_random_text_never_raises(text: str) -> None:
    rs = load_rules_text(text)
    assert len(rs.rules) + len(rs.skipped) <= text.count("\n") + 1
