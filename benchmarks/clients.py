"""One benchmark client process: many headless Bokeh-protocol sessions on one asyncio loop.

Usage (started by ``benchmarks/load.py``)::

    .venv/bin/python benchmarks/clients.py --url http://127.0.0.1:PORT --sessions 50 \
        --out clients-0.json [--stalled 0] [--slow 0 --slow-rate 300000] [--deadline 900]
    .venv/bin/python benchmarks/clients.py --url ... --out churn.json \
        --churn-seconds 1800 --churn-batch 10 --churn-hold 5

Each session is a :class:`harness.probe.ProbeSession`: websocket with a session
id and token, PULL-DOC, ``document_ready``, then every PATCH-DOC is timestamped
when its last byte arrived. Per patch it records ``(received_ns, bytes,
layer_frames)`` where ``layer_frames`` counts the ``ColumnDataChanged`` events
in it (one per layer frame put on a session's source); patches without one
(freshness texts, badges) are only counted.

Once every session is connected it prints ``READY <connected> <failed>``; it
stops on SIGTERM/SIGINT, on ``stop`` on stdin, or at ``--deadline`` s, closes
its websockets and writes ``--out`` (JSON). ``--stalled N`` adds N sessions that
never read after ``document_ready``, like a browser on a dead network (the
websocket backs up; Tornado's ping timeout closes it within seconds).
``--slow N`` adds N sessions that read at most ``--slow-rate`` bytes/s through a
small receive buffer, like a browser on a link slower than its frames: the
replica's writes back up but the session stays connected. Churn mode opens
``--churn-batch`` sessions, keeps them ``--churn-hold`` s, closes them and
starts over until ``--churn-seconds``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import resource
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.probe import ProbeSession

_DATA_EVENT = '"kind":"ColumnDataChanged"'

#: Kernel receive buffer of a slow session: small, so the backlog stays on the replica.
SLOW_RECEIVE_BUFFER = 65536


@dataclass
class Record:
    """What one session received."""

    session_id: str
    connected_ns: int = 0
    connect_s: float = 0.0
    doc_bytes: int = 0
    stalled: bool = False
    slow: bool = False
    error: str = ""
    data: list[tuple[int, int, int]] = field(default_factory=list)
    other_patches: int = 0
    other_bytes: int = 0
    closed_ns: int = 0
    #: When the replica closed the websocket (0: it stayed open until the client closed it).
    dropped_ns: int = 0

    def as_json(self) -> dict[str, Any]:
        return self.__dict__


class Client:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.records: list[Record] = []
        self.stop = asyncio.Event()
        self.opened = 0
        self.closed = 0

    async def open(
        self, stalled: bool = False, slow: bool = False
    ) -> tuple[ProbeSession, Record] | None:
        session = ProbeSession(self.args.url, secret_key=self.args.secret_key, keep_content=False)
        record = Record(session.session_id, stalled=stalled, slow=slow)
        self.records.append(record)
        started = time.monotonic()
        try:
            await session.connect(timeout=self.args.connect_timeout)
        except Exception as exc:
            record.error = f"{type(exc).__name__}: {exc}"
            with contextlib.suppress(Exception):
                await session.close()
            return None
        record.connect_s = time.monotonic() - started
        record.connected_ns = session.ready_ns
        record.doc_bytes = session.doc_bytes
        self.opened += 1
        return session, record

    async def receive(
        self, session: ProbeSession, record: Record, until: asyncio.Event, rate: float = 0.0
    ) -> None:
        """Record patches until ``until`` is set or the replica closes the socket.

        With ``rate`` (bytes/s) it waits after each message as long as a link of
        that speed would take to carry it.
        """
        stopper = asyncio.ensure_future(until.wait())
        try:
            while not session.closed and not until.is_set():
                read = asyncio.ensure_future(session._receive())
                done, _ = await asyncio.wait({read, stopper}, return_when=asyncio.FIRST_COMPLETED)
                if read not in done:
                    read.cancel()
                    break
                try:
                    header, content, nbytes = read.result()
                except ConnectionError:
                    record.dropped_ns = time.time_ns()
                    break
                if rate:
                    await asyncio.sleep(nbytes / rate)
                if header.get("msgtype") != "PATCH-DOC":
                    continue
                frames = content.count(_DATA_EVENT)
                if frames:
                    record.data.append((time.time_ns(), nbytes, frames))
                else:
                    record.other_patches += 1
                    record.other_bytes += nbytes
        finally:
            stopper.cancel()

    async def close(self, session: ProbeSession, record: Record) -> None:
        await session.close()
        record.closed_ns = time.time_ns()
        self.closed += 1

    async def steady(self) -> None:
        """Open every session (a few at a time), report READY, receive until stopped."""
        semaphore = asyncio.Semaphore(self.args.concurrency)

        tasks: list[asyncio.Future[None]] = []

        async def open_one(kind: str) -> tuple[ProbeSession, Record] | None:
            async with semaphore:
                opened = await self.open(stalled=kind == "stalled", slow=kind == "slow")
            if opened is not None and kind != "stalled":
                # Read from the first moment: an unread websocket stops answering pings
                # (Tornado's client reads no frame while its one-message queue is full).
                rate = 0.0
                if kind == "slow":
                    opened[0].pause(receive_buffer=SLOW_RECEIVE_BUFFER)
                    opened[0].resume()
                    rate = self.args.slow_rate
                tasks.append(asyncio.ensure_future(self.receive(*opened, self.stop, rate)))
            return opened

        kinds = (
            ["normal"] * self.args.sessions
            + ["stalled"] * self.args.stalled
            + ["slow"] * self.args.slow
        )
        opened = await asyncio.gather(*(open_one(k) for k in kinds))
        live = [o for o in opened if o is not None]
        print(f"READY {len(live)} {len(opened) - len(live)}", flush=True)
        await self.stop.wait()
        await asyncio.gather(*tasks, return_exceptions=True)
        for session, record in live:
            await self.close(session, record)

    async def churn(self) -> None:
        """Open a batch, keep it receiving, close it; again until the time is up."""
        end = time.monotonic() + self.args.churn_seconds
        print("READY 0 0", flush=True)
        while time.monotonic() < end and not self.stop.is_set():
            opened = [await self.open() for _ in range(self.args.churn_batch)]
            live = [o for o in opened if o is not None]
            hold = asyncio.Event()
            tasks = [asyncio.ensure_future(self.receive(s, r, hold)) for s, r in live]
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), self.args.churn_hold)
            hold.set()
            await asyncio.gather(*tasks, return_exceptions=True)
            for session, record in live:
                await self.close(session, record)
                record.data = []  # churn keeps counts, not every patch
            await asyncio.sleep(0.2)


async def _stdin_stop(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line or line.strip() == "stop":
            stop.set()


async def amain(args: argparse.Namespace) -> Client:
    client = Client(args)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, client.stop.set)
    loop.call_later(args.deadline, client.stop.set)
    watcher = asyncio.ensure_future(_stdin_stop(client.stop)) if args.stdin_stop else None
    if args.churn_seconds:
        await client.churn()
    else:
        await client.steady()
    if watcher is not None:
        watcher.cancel()
    return client


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--stalled", type=int, default=0)
    parser.add_argument("--slow", type=int, default=0)
    parser.add_argument("--slow-rate", type=float, default=300_000.0, help="bytes/s")
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--connect-timeout", type=float, default=120.0)
    parser.add_argument("--deadline", type=float, default=900.0)
    parser.add_argument("--secret-key", default=None)
    parser.add_argument("--stdin-stop", action="store_true")
    parser.add_argument("--churn-seconds", type=float, default=0.0)
    parser.add_argument("--churn-batch", type=int, default=10)
    parser.add_argument("--churn-hold", type=float, default=5.0)
    args = parser.parse_args()
    started = time.time_ns()
    client = asyncio.run(amain(args))
    usage = resource.getrusage(resource.RUSAGE_SELF)
    args.out.write_text(
        json.dumps(
            {
                "started_ns": started,
                "ended_ns": time.time_ns(),
                "cpu_s": usage.ru_utime + usage.ru_stime,
                "opened": client.opened,
                "closed": client.closed,
                "sessions": [r.as_json() for r in client.records],
            }
        )
    )


if __name__ == "__main__":
    main()
