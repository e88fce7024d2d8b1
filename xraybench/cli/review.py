"""`xraybench review ...`: blinded expert reader studies (create, serve, results, export, link)."""

from __future__ import annotations

import argparse
import sys

from xraybench.config import add_arguments, from_namespace

HELP = {
    "create": "sample cases both runs answered, assign them, print one secret link per reviewer",
    "serve": "serve the rating page (binds 127.0.0.1 unless --host says otherwise)",
    "results": "preference shares with bootstrap CIs, Cohen's / Fleiss' kappa: Markdown, CSV, JSON, PNG",
    "export": "write every stored answer and comment as CSV (choices mapped to models)",
    "link": "issue a new link for a reviewer who lost theirs (the old one stops working)",
}


def add_parser(parser: argparse.ArgumentParser) -> None:
    from xraybench.review.export import ExportConfig, ResultsConfig
    from xraybench.review.server import ServeConfig
    from xraybench.review.study import CreateConfig, LinkConfig

    sub = parser.add_subparsers(dest="review_command", metavar="REVIEW_COMMAND", required=True)
    configs = {"create": CreateConfig, "serve": ServeConfig, "results": ResultsConfig, "export": ExportConfig,
               "link": LinkConfig}  # fmt: skip
    for name, config in configs.items():
        add_arguments(sub.add_parser(name, help=HELP[name], description=HELP[name]), config)


def run(args: argparse.Namespace) -> int:
    return {"create": _create, "serve": _serve, "results": _results, "export": _export, "link": _link}[
        args.review_command
    ](args)


def _create(args: argparse.Namespace) -> int:
    from urllib.parse import urlsplit

    from xraybench.review import DEFAULT_PORT
    from xraybench.review.study import CreateConfig, create_study, link

    config = from_namespace(CreateConfig, args)
    path, tokens = create_study(config)
    print(f"created study {config.name!r} at {path}")
    print("reviewer links (secret: send each one only to its reviewer; they are not stored and not shown again):")
    for reviewer, token in tokens.items():
        print(f"  {reviewer}: {link(config.url, token)}")
    port = urlsplit(config.url).port
    print(
        f"start the server with: xraybench review serve --name {config.name}"
        + (f" --root {config.root}" if config.root != "reviews" else "")
        + (f" --port {port}" if port is not None and port != DEFAULT_PORT else "")
    )
    return 0


def _link(args: argparse.Namespace) -> int:
    from xraybench.review.study import LinkConfig, link, open_study, reissue_token

    config = from_namespace(LinkConfig, args)
    token = reissue_token(open_study(config.root, config.name), config.reviewer)
    print(f"{config.reviewer}: {link(config.base_url, token)}")
    return 0


def _serve(args: argparse.Namespace) -> int:
    import errno

    from xraybench.errors import XrayBenchError
    from xraybench.review.server import ServeConfig, is_loopback, make_server
    from xraybench.review.study import open_study

    config = from_namespace(ServeConfig, args)
    store = open_study(config.root, config.name)
    try:
        server = make_server(store, config.host, config.port, quiet=config.quiet, **config.limits())
    except OSError as exc:  # a busy port, a privileged port, an address this machine does not have
        why = exc.strerror or str(exc)
        hint = (
            "another server (an earlier `review serve`?) holds it: stop that one, or pass --port N "
            "(0 picks a free one; the reviewer links must then say that port: `xraybench review link --port N`)"
            if exc.errno == errno.EADDRINUSE
            else "pass another --host or --port"
        )
        raise XrayBenchError(f"cannot serve on {config.host}:{config.port}: {why}; {hint}") from None
    host, port = server.server_address[:2]
    if not is_loopback(config.host):
        print(
            f"warning: serving on {config.host}, reachable from other machines; the links are the only "
            "protection and travel unencrypted over plain HTTP",
            file=sys.stderr,
        )
    shown = f"[{host}]" if ":" in str(host) else host
    print(
        f"serving study {config.name!r} at http://{shown}:{port}/r/<token> (Ctrl-C stops; answers are saved "
        "as they are given)",
        flush=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
    finally:
        server.server_close()
    return 0


def _results(args: argparse.Namespace) -> int:
    from pathlib import Path

    from xraybench.review.export import ResultsConfig, markdown, write_summary
    from xraybench.review.study import open_study

    config = from_namespace(ResultsConfig, args)
    store = open_study(config.root, config.name)
    out = Path(config.out) if config.out else store.path.parent / "results"
    summary = write_summary(store, out, rounds=config.bootstrap_rounds, seed=config.seed)
    print(markdown(summary))
    if "figure_skipped" in summary:
        print(f"figure skipped: {summary['figure_skipped']}", file=sys.stderr)
    print(
        f"written to {out}/ (results.md, results.csv, results.json" + (", results.png)" if "figure" in summary else ")")
    )
    return 0


def _export(args: argparse.Namespace) -> int:
    from xraybench.review.export import ExportConfig, export_answers
    from xraybench.review.study import open_study

    config = from_namespace(ExportConfig, args)
    n = export_answers(open_study(config.root, config.name), config.out)
    print(f"wrote {n} rows to {config.out}")
    return 0
