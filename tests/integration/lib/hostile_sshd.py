#!/usr/bin/env python3
"""tests/integration/lib/hostile_sshd.py: stand-in SSH servers that misbehave
on purpose, for tests that check one peer cannot stall the others. Each
listener serves one behaviour to every connection, on its own thread:

  flood    endless lines that are not an SSH version line, as fast as the
           socket takes them (an endless banner)
  garbage  endless pseudo-random bytes (the same on every connection)
  silent   accepts, then never sends a byte
  mute     a valid version line, then silence (reads and drops input)
  drip     a version line, one byte per second
  ignore   a version line, then endless SSH_MSG_IGNORE packets (never a
           KEXINIT): the key exchange never starts
  reset    a version line and a KEXINIT, reads the client's, then resets the
           connection (RST) in mid key exchange

Usage: hostile_sshd.py --pidfile F ADDR:PORT:MODE...
Every connection is logged to stderr as "MODE ADDR:PORT accepted" and how it
ended, so a test can check what the server saw."""

import os
import random
import socket
import struct
import sys
import threading
import time

VERSION = b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n"


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def packet(payload):
    """An unencrypted SSH binary packet (RFC 4253 6): 4-byte length, padding
    length, payload, at least 4 bytes of padding, a multiple of 8 long."""
    pad = 8 - (len(payload) + 5) % 8
    if pad < 4:
        pad += 8
    return struct.pack(">IB", len(payload) + pad + 1, pad) + payload + \
        b"\0" * pad


def namelist(s):
    return struct.pack(">I", len(s)) + s


def kexinit():
    lists = [b"curve25519-sha256", b"ssh-ed25519", b"aes128-ctr",
             b"aes128-ctr", b"hmac-sha2-256", b"hmac-sha2-256", b"none",
             b"none", b"", b""]
    return packet(bytes([20]) + os.urandom(16) +
                  b"".join(namelist(x) for x in lists) + b"\0" + b"\0" * 4)


def drain(conn):
    """Read and drop what the client sends, without blocking."""
    try:
        while conn.recv(65536, socket.MSG_DONTWAIT):
            pass
    except (BlockingIOError, InterruptedError):
        pass


def serve(conn, mode):
    if mode == "flood":
        line = b"drover test: this is not an ssh version line " + b"x" * 64 \
            + b"\r\n"
        chunk = line * 256
        while True:
            conn.sendall(chunk)
    elif mode == "garbage":
        rnd = random.Random(13)
        while True:
            conn.sendall(rnd.randbytes(16384))
    elif mode == "silent":
        while conn.recv(65536):
            pass
    elif mode == "mute":
        conn.sendall(VERSION)
        while conn.recv(65536):
            pass
    elif mode == "drip":
        for b in VERSION:
            conn.sendall(bytes([b]))
            drain(conn)
            time.sleep(1)
        while conn.recv(65536):
            pass
    elif mode == "ignore":
        conn.sendall(VERSION)
        ign = packet(bytes([2]) + namelist(b"z" * 1000)) * 16
        while True:
            conn.sendall(ign)
            drain(conn)
    elif mode == "reset":
        conn.sendall(VERSION + kexinit())
        conn.settimeout(5)
        got = b""
        # The client's version line and the start of its KEXINIT.
        while got.count(b"\n") < 1 or len(got) < 64:
            d = conn.recv(4096)
            if not d:
                return "client left"
            got += d
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                        struct.pack("ii", 1, 0))
        conn.close()
        return "reset sent"
    return "ended"


def handle(conn, peer, mode, where):
    log(f"{mode} {where} accepted {peer[0]}:{peer[1]}")
    how = "closed"
    try:
        how = serve(conn, mode) or how
    except OSError as ex:
        how = f"client gone ({ex.__class__.__name__})"
    finally:
        try:
            conn.close()
        except OSError:
            pass
    log(f"{mode} {where} {how}")


def listener(addr, port, mode):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    s.listen(64)
    where = f"{addr}:{port}"
    while True:
        conn, peer = s.accept()
        threading.Thread(target=handle, args=(conn, peer, mode, where),
                         daemon=True).start()


MODES = ("flood", "garbage", "silent", "mute", "drip", "ignore", "reset")


def main(argv):
    pidfile = None
    specs = []
    i = 0
    while i < len(argv):
        if argv[i] == "--pidfile":
            pidfile = argv[i + 1]
            i += 2
            continue
        addr, port, mode = argv[i].rsplit(":", 2)
        if mode not in MODES:
            sys.exit(f"hostile_sshd: unknown mode {mode!r} ({', '.join(MODES)})")
        specs.append((addr, int(port), mode))
        i += 1
    if not specs:
        sys.exit(__doc__)
    threads = []
    for addr, port, mode in specs:
        t = threading.Thread(target=listener, args=(addr, port, mode),
                             daemon=True)
        t.start()
        threads.append(t)
    if pidfile:
        with open(pidfile, "w") as f:
            f.write(f"{os.getpid()}\n")
    for t in threads:
        t.join()


if __name__ == "__main__":
    main(sys.argv[1:])
