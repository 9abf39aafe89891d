"""Run uvicorn with N workers the way `uvicorn --workers N` does, plus TCP_NODELAY.

uvicorn 0.17 (Debian bookworm) hands its workers a listening socket created with protocol 0, so
asyncio does not set TCP_NODELAY on accepted connections; h11 writes headers and body separately,
and Nagle plus delayed ACKs then hold every response for ~40 ms (22 req/s per connection). A
single-process uvicorn does not have the problem. Setting TCP_NODELAY on the listening socket
(Linux passes it on to accepted sockets) measures FastAPI at its best, which is the point.

Usage: uvicorn_workers.py PORT WORKERS
"""

import socket
import sys

import uvicorn
from uvicorn.supervisors import Multiprocess


def main() -> None:
    port, workers = int(sys.argv[1]), int(sys.argv[2])
    config = uvicorn.Config("fastapi_app:app", host="127.0.0.1", port=port, workers=workers, access_log=False, log_level="info")
    server = uvicorn.Server(config)
    if workers == 1:
        server.run()
        return
    sock = config.bind_socket()
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    Multiprocess(config, target=server.run, sockets=[sock]).run()


if __name__ == "__main__":  # the workers re-import this file
    main()
