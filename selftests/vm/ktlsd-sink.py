#!/usr/bin/python3
# selftests/vm/ktlsd-sink.py PORT N FILE [TIMEOUT] - a plain TCP backend for
# guest-ktlsd.sh, for clients that never half-close (openssl s_client).
#
# Listens on 127.0.0.1:PORT (0: any; "listening on P" is printed), accepts
# one connection, reads exactly N bytes (less if the peer closes first),
# only then sends FILE and shuts its write side down, and reads on until
# EOF (bytes past N count as "extra").  Prints one line:
#
#   recv=N recv_sha256=HEX sent=M sent_sha256=HEX extra=K end=eof|timeout|reset
#
# Everything is bounded by TIMEOUT seconds (default 60).
import hashlib
import socket
import sys
import time


def main():
    port, want, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    tmo = float(sys.argv[4]) if len(sys.argv) > 4 else 60.0
    deadline = time.monotonic() + tmo
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(4)
    print("listening on %d" % ls.getsockname()[1], flush=True)
    ls.settimeout(tmo)
    try:
        c, _ = ls.accept()
    except socket.timeout:
        print("recv=0 recv_sha256=- sent=0 sent_sha256=- extra=0 end=noconn",
              flush=True)
        return 1
    ls.close()

    def left():
        return max(0.05, deadline - time.monotonic())

    rh, got, extra, end = hashlib.sha256(), 0, 0, "eof"
    sh, sent = hashlib.sha256(), 0
    try:
        while got < want:
            c.settimeout(left())
            d = c.recv(min(65536, want - got))
            if not d:
                break
            rh.update(d)
            got += len(d)
        with open(path, "rb") as f:
            data = f.read()
        c.settimeout(left())
        c.sendall(data)
        sh.update(data)
        sent = len(data)
        c.shutdown(socket.SHUT_WR)
        while True:
            c.settimeout(left())
            d = c.recv(65536)
            if not d:
                break
            extra += len(d)
    except socket.timeout:
        end = "timeout"
    except ConnectionResetError:
        end = "reset"
    except OSError as e:
        end = "error:%d" % e.errno
    c.close()
    print("recv=%d recv_sha256=%s sent=%d sent_sha256=%s extra=%d end=%s" %
          (got, rh.hexdigest(), sent, sh.hexdigest(), extra, end), flush=True)
    return 0 if end == "eof" else 1


if __name__ == "__main__":
    sys.exit(main())
