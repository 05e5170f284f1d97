"""The command line of the local stack: ``python -m shopsite.localstack COMMAND``."""

from __future__ import annotations

import argparse
import os
import sys

from shopsite import localstack
from shopsite.localstack import stack, web
from shopsite.localstack.config import StackError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m shopsite.localstack", description=localstack.__doc__.split("\n")[0]
    )
    sub = parser.add_subparsers(dest="command", required=True)
    up_parser = sub.add_parser("up", help="create and start the stack (idempotent)")
    up_parser.add_argument(
        "--replicas",
        type=int,
        default=int(os.environ.get("STACK_REPLICAS", "1")),
        help="number of streaming replicas (default 1, or STACK_REPLICAS)",
    )
    sub.add_parser("down", help="stop the servers this stack started")
    sub.add_parser("status", help="show what runs; exit 3 if anything is down")
    sub.add_parser("env", help="print export lines for the shell")
    sub.add_parser("destroy", help="stop the stack and delete its data")
    sub.add_parser("serve", help="run nginx and gunicorn (production settings) on loopback until Ctrl-C")
    args = parser.parse_args(argv)
    try:
        if args.command == "up":
            stack.up(args.replicas)
        elif args.command == "down":
            stack.down()
        elif args.command == "status":
            return stack.status()
        elif args.command == "env":
            stack.env()
        elif args.command == "destroy":
            stack.destroy()
        elif args.command == "serve":
            web.serve()
    except StackError as error:
        print(f"localstack: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
