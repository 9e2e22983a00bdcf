"""A loopback TCP relay to the API server that can be told to black-hole: every connection it holds then stays open
and forwards nothing, as connections cut by a network partition stay half-open. New connections are accepted and held
the same way until the black hole ends; those held then stay dead, as half-open connections do, and only
connections made afterwards are forwarded again."""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading
from collections.abc import Iterator

CHUNK = 65536


class Relay:
    """Forwards 127.0.0.1:`port` to `upstream` (host, port), one thread per connection. Point a kubeconfig's server at
    `https://127.0.0.1:<port>`: TLS passes through untouched (the API server's certificate names 127.0.0.1)."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self._lock = threading.Lock()
        self._black_hole = False
        self._frozen = threading.Event()  # set: every connection made so far stops forwarding
        self._open: list[socket.socket] = []
        self.accepted = 0
        self.held = 0  # connections accepted during a black hole, never forwarded
        self._closed = False
        self._thread = threading.Thread(target=self._accept, name=f"relay-{self.port}", daemon=True)

    def start(self) -> Relay:
        self._thread.start()
        return self

    def black_hole(self) -> None:
        """From now on nothing is forwarded on any connection, old or new; all stay open."""
        with self._lock:
            self._black_hole = True
            self._frozen.set()

    def restore(self) -> None:
        """Forward new connections again; those frozen or held stay open and silent (half-open) until closed."""
        with self._lock:
            self._black_hole = False
            self._frozen = threading.Event()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._frozen.set()
            sockets, self._open = self._open, []
        with contextlib.suppress(OSError):
            self.listener.close()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.close()

    def _keep(self, *sockets: socket.socket) -> None:
        with self._lock:
            self._open.extend(sockets)

    def _accept(self) -> None:
        while True:
            try:
                downstream, _ = self.listener.accept()
            except OSError:
                return  # closed
            with self._lock:
                self.accepted += 1
                holding, frozen = self._black_hole, self._frozen
                if holding:
                    self.held += 1
            self._keep(downstream)
            if holding:
                continue
            try:
                upstream = socket.create_connection(self.upstream, timeout=10)
            except OSError:
                downstream.close()
                continue
            self._keep(upstream)
            threading.Thread(target=self._pump, args=(downstream, upstream, frozen), daemon=True,
                             name=f"relay-{self.port}-pump").start()

    def _pump(self, a: socket.socket, b: socket.socket, frozen: threading.Event) -> None:
        """Copy bytes both ways until either side closes (then close both) or the relay freezes (then leave both
        open and silent)."""
        other = {a: b, b: a}
        with selectors.DefaultSelector() as sel:
            for sock in (a, b):
                sel.register(sock, selectors.EVENT_READ)
            while not frozen.is_set():
                for key, _ in sel.select(timeout=0.1):
                    if frozen.is_set():
                        return
                    try:
                        data = key.fileobj.recv(CHUNK)  # type: ignore[union-attr]
                        if data:
                            other[key.fileobj].sendall(data)  # type: ignore[index]
                            continue
                    except OSError:
                        pass
                    for sock in (a, b):
                        with contextlib.suppress(OSError):
                            sock.close()
                    return


@contextlib.contextmanager
def relay_to(upstream: tuple[str, int]) -> Iterator[Relay]:
    relay = Relay(upstream).start()
    try:
        yield relay
    finally:
        relay.close()
