"""`hostpulse package`: each function's zip for real AWS; `hostpulse trigger-responses`: what
Terraform's AWS provider 3.39 cannot set on a trigger."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from hostpulse.deploy.deployer import set_response_types
from hostpulse.deploy.model import load_stack
from hostpulse.deploy.packaging import PackagingError, Target, fetch_wheels, package_stack
from hostpulse.localcloud.settings import LocalCloudSettings

REQUIREMENTS = "lambda-requirements.txt"  # beside the stack description


def add_parser(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    package = commands.add_parser(
        "package",
        help="build each function's zip with its dependencies (manylinux wheels), reproducibly",
    )
    package.add_argument("--arch", choices=["x86_64", "arm64"], default="x86_64")
    package.add_argument(
        "--python-version",
        help="the Python the functions run on (default: the description's runtime)",
    )
    package.add_argument("--stack", type=Path, help="the stack description (default: stack/)")
    package.add_argument("--out", type=Path, help="default: build/lambda/ARCH")
    package.add_argument(
        "--function", action="append", default=[], help="only this function (repeatable)"
    )
    responses = commands.add_parser(
        "trigger-responses", help="set an SQS trigger's response types (used by terraform/)"
    )
    responses.add_argument("uuid", help="the event source mapping's UUID")
    responses.add_argument(
        "--report-batch-item-failures",
        action="store_true",
        help="retry only the records the function reports as failed (else: none reported)",
    )
    responses.add_argument("--region", required=True)
    responses.add_argument("--endpoint", help="the local cloud's endpoint; none on AWS")


def run_package(args: argparse.Namespace, settings: LocalCloudSettings) -> int:
    stack_file = args.stack or settings.stack_file
    stack = load_stack(stack_file)
    target = (
        Target(args.python_version, args.arch)
        if args.python_version
        else Target.for_runtime(stack.runtime, args.arch)
    )
    out_dir = args.out or Path("build") / "lambda" / args.arch
    try:
        wheels = fetch_wheels(
            stack_file.parent / REQUIREMENTS, target, settings.state_dir / "wheels"
        )
        reports = package_stack(stack, out_dir, wheels, args.function)
    except PackagingError as error:
        print(f"hostpulse: error: {error}")
        return 1
    manifest = {
        "python_version": target.python_version,
        "architecture": target.architecture,
        "wheels": [wheel.name for wheel in wheels],
        "packages": {r.function: {"size": r.size, "sha256": r.sha256} for r in reports},
    }
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(
        f"hostpulse: {len(reports)} packages for Python {target.python_version} "
        f"on {target.architecture} in {out_dir}"
    )
    for report in reports:
        print(f"  {report.function:<14} {report.size / 1e6:6.2f} MB  sha256 {report.sha256}")
    return 0


def run_trigger_responses(args: argparse.Namespace) -> int:
    set_response_types(args.uuid, args.report_batch_item_failures, args.region, args.endpoint)
    kinds = "ReportBatchItemFailures" if args.report_batch_item_failures else "none"
    print(f"hostpulse: trigger {args.uuid}: response types {kinds}")
    return 0
