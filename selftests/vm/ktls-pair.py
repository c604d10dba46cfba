#!/usr/bin/env python3
"""selftests/vm/ktls-pair.py - one TLS connection over loopback between a
server thread and a client in this process, both with OpenSSL's own kTLS
offload (SSL_OP_ENABLE_KTLS); meant for the test VM (kernel with `tls`).

usage: ktls-pair.py CERT KEY VERSION CIPHER BYTES

VERSION is 1.2 or 1.3; CIPHER an OpenSSL TLS 1.2 cipher name ("-" for the
default; TLS 1.3 always negotiates the default suite).  The client sends
BYTES random bytes, the server checks and sends them back, the client
checks them.  While both ends are still open the script samples
/proc/net/tls_stat.  Prints one line:

  ok=1|0 version=... cipher=... bytes=N secs=S curr_tx=N curr_rx=N
  tx_sw=+N rx_sw=+N decrypt_err=+N [error=...]

curr_* are TlsCurrTxSw/TlsCurrRxSw during the connection, the others the
growth of TlsTxSw, TlsRxSw and TlsDecryptError.  Exit status 0 when the
bytes arrived intact both ways, else 1.
"""
import hashlib
import os
import socket
import ssl
import sys
import threading
import time

SSL_OP_ENABLE_KTLS = 1 << 3  # ssl.OP_ENABLE_KTLS from Python 3.12 on


def tls_stat():
    out = {}
    try:
        with open("/proc/net/tls_stat") as f:
            for line in f:
                k, v = line.split()
                out[k] = int(v)
    except OSError:
        pass
    return out


def recv_exact(s, n):
    h, got = hashlib.sha256(), 0
    while got < n:
        d = s.recv(min(65536, n - got))
        if not d:
            break
        h.update(d)
        got += len(d)
    return got, h.hexdigest()


def main():
    cert, key, version, cipher, nbytes = sys.argv[1:6]
    nbytes = int(nbytes)
    ver = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}[version]

    sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    sctx.load_cert_chain(cert, key)
    cctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    cctx.check_hostname = False
    cctx.verify_mode = ssl.CERT_NONE
    for c in (sctx, cctx):
        c.minimum_version = c.maximum_version = ver
        c.options |= SSL_OP_ENABLE_KTLS
        if cipher != "-":
            c.set_ciphers(cipher)
    # no tickets: nothing but data records after the handshake
    sctx.num_tickets = 0

    data = os.urandom(nbytes)
    want = hashlib.sha256(data).hexdigest()
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(1)
    lsock.settimeout(60)
    res = {}
    sampled = threading.Event()
    done = threading.Event()

    def server():
        try:
            c, _ = lsock.accept()
            c.settimeout(120)
            with sctx.wrap_socket(c, server_side=True) as s:
                res["srv"] = recv_exact(s, nbytes)
                s.sendall(data)
                sampled.wait(60)
                done.wait(60)
        except Exception as e:  # reported by the client side
            res["srv_err"] = repr(e)
            sampled.set()

    before = tls_stat()
    t = threading.Thread(target=server, daemon=True)
    t.start()
    t0 = time.time()
    err = ""
    cli = (0, "")
    curr = {}
    vers = ciph = "?"
    try:
        raw = socket.create_connection(("127.0.0.1", lsock.getsockname()[1]),
                                       timeout=120)
        with cctx.wrap_socket(raw) as s:
            vers, ciph = s.version(), s.cipher()[0]
            s.sendall(data)
            cli = recv_exact(s, nbytes)
            curr = tls_stat()
            sampled.set()
            done.set()
    except Exception as e:
        err = repr(e)
    done.set()
    t.join(60)
    secs = time.time() - t0
    after = tls_stat()

    srv = res.get("srv", (0, ""))
    good = (not err and "srv_err" not in res and srv == (nbytes, want)
            and cli == (nbytes, want))
    if not err and "srv_err" in res:
        err = "server: " + res["srv_err"]
    elif not err and not good:
        err = "data differs: server got %d, client got %d" % (srv[0], cli[0])

    def delta(k):
        return after.get(k, 0) - before.get(k, 0)

    print("ok=%d version=%s cipher=%s bytes=%d secs=%.2f curr_tx=%d curr_rx=%d "
          "tx_sw=+%d rx_sw=+%d decrypt_err=+%d%s" % (
              good, vers, ciph, nbytes, secs, curr.get("TlsCurrTxSw", -1),
              curr.get("TlsCurrRxSw", -1), delta("TlsTxSw"), delta("TlsRxSw"),
              delta("TlsDecryptError"),
              (" error=" + err.replace(" ", "_")) if err else ""), flush=True)
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main())
