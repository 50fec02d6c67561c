"""The ``taxometer-kd`` command."""

from __future__ import annotations

import argparse
import sys
import warnings


def _cmd_teachers(args: argparse.Namespace) -> int:
    from taxometer_kd import registry

    reg = registry.teachers()
    if not reg.names():
        print("no teachers are registered")
        return 1
    for name in reg.names():
        spec = reg.get(name)
        aliases = reg.aliases_of(name)
        flag = " [needs a model download]" if spec.needs_download else ""
        print(f"{name}{' (aliases: ' + ', '.join(aliases) + ')' if aliases else ''}{flag}")
        print(f"    {spec.description}")
        if args.verbose:
            print(f"    plugin: {reg.origin_of(name)}")
            for o in spec.options:
                allowed = o.describe_range()
                default = ",".join(map(str, o.default)) if isinstance(o.default, tuple) else o.default
                print(
                    f"    --teacher-option {o.name}=... [{default}] {o.help}"
                    + ("" if allowed == "any" else f"; allowed: {allowed}")
                )
    return 0


def _cmd_losses(args: argparse.Namespace) -> int:
    from taxometer_kd import registry

    reg = registry.losses()
    for name in reg.names():
        aliases = reg.aliases_of(name)
        print(f"{name}{' (aliases: ' + ', '.join(aliases) + ')' if aliases else ''}: {reg.get(name).description}")
    return 0


def _cmd_demo_data(args: argparse.Namespace) -> int:
    from taxometer_kd import synthetic

    paths = synthetic.make_metagenome(args.outdir, seed=args.seed, size=args.size, n_samples=args.samples)
    for key, path in paths.items():
        print(f"{key}\t{path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from taxometer_kd import __version__

    parser = argparse.ArgumentParser(
        prog="taxometer-kd",
        description="Knowledge distillation for Vamb's Taxometer. The training run itself is "
        "`vamb taxometer ... --teacher NAME` (or `taxometer-kd taxometer ...`).",
    )
    parser.add_argument("--version", action="version", version=f"taxometer-kd {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    p = sub.add_parser("teachers", help="list the registered teachers")
    p.add_argument("-v", "--verbose", action="store_true", help="also show options and plugins")
    p.set_defaults(func=_cmd_teachers)
    p = sub.add_parser("losses", help="list the registered distillation losses")
    p.set_defaults(func=_cmd_losses)
    sub.add_parser("taxometer", help="run `vamb taxometer` with the knowledge-distillation flags", add_help=False)
    sub.add_parser("embed", help="fill a teacher's embedding cache without training", add_help=False)
    p = sub.add_parser(
        "demo-data", help="write a small synthetic metagenome (contigs, abundances, noisy labels, truth)"
    )
    p.add_argument("outdir")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--size", choices=("tiny", "small", "demo"), default="demo")
    p.add_argument("--samples", type=int, default=3)
    p.set_defaults(func=_cmd_demo_data)
    from taxometer_kd.labels.cli import add_parser as add_labels_parser

    add_labels_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # these two pass their arguments on untouched
    if argv[:1] == ["taxometer"]:
        from taxometer_kd.vamb.patch import main_taxometer

        main_taxometer(argv[1:])
        return 0
    if argv[:1] == ["embed"]:
        from taxometer_kd.embed import main as embed_main

        return embed_main(argv[1:]) or 0
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 1
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
