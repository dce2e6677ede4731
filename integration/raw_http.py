#!/usr/bin/env python3
"""Raw HTTP over a unix socket for the hostile-input scenario (test_hostile.sh).

  raw_http.py send SOCKET        sends stdin's bytes as they are, prints what comes back (status
                                 lines of every head, then up to 400 bytes of the last body) and
                                 "CLOSED" when the server closes; 10 s at most.
  raw_http.py hold SOCKET N FLAG opens N idle connections (nothing sent), prints how many were
                                 accepted and how many were answered at once (a 503 past the
                                 cap), holds them while FLAG exists.
  raw_http.py slow SOCKET N FLAG N connections each sending a request head one byte a second
                                 while FLAG exists (slowloris).
"""
import os
import select
import socket
import sys
import time


def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    return s


def send(path):
    data = sys.stdin.buffer.read()
    s = connect(path)
    s.settimeout(10)
    try:
        s.sendall(data)
    except OSError as e:  # the server may refuse before reading all of it
        print(f"SEND {e.strerror}")
    got = b""
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            chunk = s.recv(65536)
        except OSError as e:
            print(f"RECV {e.strerror}")
            break
        if not chunk:
            got += b"\nCLOSED"
            break
        got += chunk
    text = got.decode("utf-8", "replace")
    heads = [line for line in text.split("\r\n") if line.startswith("HTTP/1.")]
    for head in heads:
        print(head)
    body = text.split("\r\n\r\n")[-1]
    print(body[:400])


def hold(path, n, flag):
    held, answered = [], 0
    for _ in range(n):
        try:
            held.append(connect(path))
        except OSError:
            break
    time.sleep(1)
    poller = select.poll()  # select() stops at descriptor 1024
    for s in held:
        poller.register(s, select.POLLIN)
    answered = len(poller.poll(0))
    print(f"{len(held)} {answered}", flush=True)
    while os.path.exists(flag):
        time.sleep(0.2)


def slow(path, n, flag):
    head = b"POST /v1.41/containers/create HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 1000
    conns = [connect(path) for _ in range(n)]
    i = 0
    while os.path.exists(flag) and i < len(head):
        for s in conns:
            try:
                s.send(head[i:i + 1])
            except OSError:
                pass
        i += 1
        time.sleep(1)


if __name__ == "__main__":
    mode, path = sys.argv[1], sys.argv[2]
    if mode == "send":
        send(path)
    elif mode == "hold":
        hold(path, int(sys.argv[3]), sys.argv[4])
    elif mode == "slow":
        slow(path, int(sys.argv[3]), sys.argv[4])
