"""The ``livegrid`` command: one entry point for every process role."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from pydantic import ValidationError

from livegrid.settings import Settings

DESCRIPTION = """\
livegrid: a live-data dashboard for many concurrent users.

Workers compute plot frames once into Redis; stateless Panel replicas show them
to every browser session. Settings come from LIVEGRID_* environment variables
(LIVEGRID_REDIS_URL, LIVEGRID_NAMESPACE, ...; see docs/operations.md).
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="livegrid",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = commands.add_parser(
        "demo", help="run Redis (private unless LIVEGRID_REDIS_URL is set), workers and replicas"
    )
    demo.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    demo.add_argument("--replicas", type=int, default=1, help="replica processes (default 1)")
    demo.add_argument("--port", type=int, default=5006, help="first replica's port (default 5006)")

    worker = commands.add_parser("worker", help="run one worker process of the pool")
    worker.add_argument("--id", help="worker id (default: host-pid)")
    worker.add_argument("--metrics-port", type=int, help="serve /healthz and /metrics on this port")

    produce = commands.add_parser(
        "produce", help="publish the synthetic instrument's streams to Kafka (da00, f144)"
    )
    produce.add_argument("--bootstrap", required=True, metavar="HOST:PORT", help="Kafka brokers")
    produce.add_argument(
        "--mapping", metavar="FILE", help="topic mapping (default: the built-in synthetic one)"
    )
    produce.add_argument(
        "--duration", type=float, metavar="S", help="stop after S seconds (default: until Ctrl-C)"
    )

    app = commands.add_parser("app", help="run one dashboard replica (a Panel server)")
    app.add_argument("--port", type=int, default=5006, help="HTTP port (default 5006)")
    app.add_argument("--address", default="127.0.0.1", help="listen address (default 127.0.0.1)")

    workspace = commands.add_parser("workspace", help="load or dump the workspace (grids, jobs)")
    ws_commands = workspace.add_subparsers(dest="ws_command", required=True, metavar="ACTION")
    load = ws_commands.add_parser("load", help="validate a YAML template and make it current")
    load.add_argument("file", help="YAML workspace template")
    load.add_argument("--user", default="cli", help="name recorded in the change log")
    load.add_argument("--no-jobs", action="store_true", help="do not start the template's jobs")
    dump = ws_commands.add_parser("dump", help="print the current workspace as YAML")
    dump.add_argument("file", nargs="?", help="write here instead of stdout")
    return parser


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        lines = [
            f"  {'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg']}" for e in exc.errors()
        ]
        sys.exit("livegrid: invalid settings:\n" + "\n".join(lines))


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    settings = _settings()
    if args.command == "workspace":
        from livegrid.workspace_cli import dump_command, load_command

        if args.ws_command == "load":
            return load_command(settings, args.file, user=args.user, start_jobs=not args.no_jobs)
        return dump_command(settings, args.file)
    if args.command == "worker":
        from worker.main import run_worker

        return run_worker(settings, worker_id=args.id, metrics_port=args.metrics_port)
    if args.command == "produce":
        from worker.produce import run_producer

        return run_producer(
            settings, bootstrap=args.bootstrap, mapping_path=args.mapping, duration_s=args.duration
        )
    if args.command == "demo":
        from livegrid.demo import run_demo

        return run_demo(settings, workers=args.workers, replicas=args.replicas, port=args.port)
    if args.command == "app":
        from app.server import run_app

        return run_app(settings, port=args.port, address=args.address)
    raise AssertionError(f"unhandled command {args.command!r}")


if __name__ == "__main__":
    sys.exit(main())
