"""The "scanner" side of the namespace tests, run as a script inside the scanner namespace.

``scanner.py probes HOST``  — HTTP, TNS, TLS, garbage, a silent connection, a closed port and
redirected ports; ``scanner.py flood HOST PORT N SECONDS`` — N connect/reset cycles.
Prints one JSON line of counters.
"""

from __future__ import annotations

import json
import os
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import samples


def send(host: str, port: int, data: bytes, *, hold: float = 0.0) -> str:
    """Connect, send, half-close, read until the sensor closes; what came back."""
    try:
        with socket.create_connection((host, port), timeout=5) as s:
            if data:
                s.sendall(data)
            if hold:
                time.sleep(hold)  # slowloris-style: connected, silent
            else:
                s.shutdown(socket.SHUT_WR)
            got = s.recv(100)
            return "closed" if got == b"" else f"data:{got!r}"
    except ConnectionRefusedError:
        return "refused"
    except OSError as exc:
        return f"error:{exc.__class__.__name__}"


def probes(host: str) -> dict[str, str]:
    jobs = {
        "http": (80, samples.HTTP, 0.0),
        "tns": (1521, samples.tns_connect("sqlmap"), 0.0),
        "tls": (443, samples.tls_client_hello("probe.example"), 0.0),
        "garbage": (80, bytes(range(7, 40)), 0.0),
        "silent": (80, b"", 2.0),
        "closed": (8080, samples.HTTP, 0.0),
        "rdp": (3389, samples.RDP, 0.0),
        "redis": (6379, samples.REDIS_RESP, 0.0),
    }
    out: dict[str, str] = {}
    threads = [threading.Thread(target=lambda k=k, v=v: out.__setitem__(k, send(host, *v[:2],
                                                                              hold=v[2])))
               for k, v in jobs.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def flood(host: str, port: int, n: int, seconds: float) -> dict[str, float]:
    """``n`` connections (connect, then reset) as fast as possible within ``seconds``."""
    done = ok = failed = 0
    start = time.monotonic()
    linger = struct.pack("ii", 1, 0)
    while done < n and time.monotonic() - start < seconds:
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
        s.settimeout(1.0)
        try:
            s.connect((host, port))
            ok += 1
        except OSError:
            failed += 1
        finally:
            s.close()
        done += 1
    return {"attempted": done, "connected": ok, "failed": failed,
            "elapsed": time.monotonic() - start}


if __name__ == "__main__":
    if sys.argv[1] == "probes":
        print(json.dumps(probes(sys.argv[2])))
    else:
        print(json.dumps(flood(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]),
                               float(sys.argv[5]))))
