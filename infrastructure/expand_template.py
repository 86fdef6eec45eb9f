"""Expands the SAM template into plain CloudFormation with aws-sam-translator, offline.

``python -m infrastructure.expand_template template.yaml build/template.expanded.json``

cfn-lint no longer expands SAM itself, and only the expanded form shows what SAM generates
(event source mappings, permissions, the REST API's stage and its definition) to the linter.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from samtranslator.translator.managed_policy_translator import ManagedPolicyLoader
from samtranslator.translator.transform import transform

from infrastructure.local.template import ACCOUNT, REGION, load


class OfflinePolicies(ManagedPolicyLoader):  # type: ignore[misc]
    """Resolves AWS managed policy names to their ARNs without calling IAM."""

    def __init__(self) -> None:
        super().__init__(iam_client=None)

    def load(self) -> dict[str, str]:
        return _ManagedPolicies()


class _ManagedPolicies(dict[str, str]):
    def __missing__(self, name: str) -> str:
        prefix = "service-role/" if name.startswith("AWSLambda") and "Execution" in name else ""
        return f"arn:aws:iam::aws:policy/{prefix}{name}"

    def get(self, name: str, default: Any = None) -> str:
        return self[name]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str)


def expand(source: Path) -> dict[str, Any]:
    template = load(source)
    # As `sam package` does: local code folders become S3 locations before translation.
    for resource in template["Resources"].values():
        properties = resource.get("Properties", {})
        for key in ("CodeUri", "ContentUri"):
            if isinstance(properties.get(key), str) and not properties[key].startswith("s3://"):
                properties[key] = f"s3://mentoring-artifacts/{properties[key].strip('/')}.zip"
    parameters = {k: v.get("Default") for k, v in template.get("Parameters", {}).items()}
    parameters |= {"AWS::Region": REGION, "AWS::AccountId": ACCOUNT, "AWS::Partition": "aws"}
    # The translator makes a boto3 session for the region even when it is given; it needs no credentials.
    os.environ.setdefault("AWS_DEFAULT_REGION", REGION)
    expanded: dict[str, Any] = transform(template, parameters, OfflinePolicies())
    return expanded


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    source, target = Path(argv[0]), Path(argv[1])
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(expand(source), indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
