"""Read template.yaml and expand its SAM transform into plain CloudFormation.

The local stack and the tests both start here, so what runs locally is what the template
declares: a resource renamed in template.yaml is renamed on the moto server too.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import boto3
import yaml
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator

REPO_ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_PATH = REPO_ROOT / "template.yaml"

# What moto answers for the pseudo parameters; CloudFormation fills in the real ones.
LOCAL_ACCOUNT_ID = "123456789012"


class _CloudFormationLoader(yaml.SafeLoader):
    """SafeLoader that reads the short intrinsic forms (!Ref, !Sub, !GetAtt...)."""


def _construct_intrinsic(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if tag_suffix == "Ref":
        return {"Ref": value}
    if tag_suffix == "GetAtt" and isinstance(value, str):
        resource, _, attribute = value.partition(".")
        return {"Fn::GetAtt": [resource, attribute]}
    if tag_suffix == "Condition":
        return {"Condition": value}
    return {f"Fn::{tag_suffix}": value}


_CloudFormationLoader.add_multi_constructor("!", _construct_intrinsic)


def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    """Parse a CloudFormation/SAM YAML template, short intrinsic forms included."""
    with open(path, encoding="utf-8") as file:
        document = yaml.load(file, Loader=_CloudFormationLoader)
    if not isinstance(document, dict) or "Resources" not in document:
        raise ValueError(f"{path} is not a CloudFormation template (no Resources)")
    return document


def translate(
    sam_template: dict[str, Any],
    parameters: dict[str, str] | None = None,
    *,
    region: str = "us-east-1",
    account_id: str = LOCAL_ACCOUNT_ID,
) -> dict[str, Any]:
    """Expand the AWS::Serverless transform the way CloudFormation would at deploy time."""
    parameter_values: dict[str, Any] = {
        "AWS::Region": region,
        "AWS::AccountId": account_id,
        "AWS::Partition": "aws",
        **(parameters or {}),
    }
    packaged = _as_packaged(sam_template)
    translator = Translator(
        managed_policy_map=None,
        sam_parser=Parser(),
        boto_session=boto3.session.Session(region_name=region),
    )
    return translator.translate(
        packaged,
        parameter_values=parameter_values,
        # Roles are declared explicitly in the template, so no managed policy names resolve.
        get_managed_policy_map=dict,
    )


def _as_packaged(sam_template: dict[str, Any]) -> dict[str, Any]:
    """Point local code at placeholder artifacts, as `sam package` would point it at S3/ECR.

    The transform only accepts packaged code locations; locally the code runs from this
    checkout, so the placeholders are never fetched.
    """
    packaged = copy.deepcopy(sam_template)
    for logical_id, resource in packaged["Resources"].items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        properties = resource.setdefault("Properties", {})
        if properties.get("PackageType") == "Image":
            if "ImageUri" not in properties:  # `sam build` fills it from the Dockerfile
                image = f"{LOCAL_ACCOUNT_ID}.dkr.ecr.local/{logical_id.lower()}:local"
                properties["ImageUri"] = image
        elif isinstance(properties.get("CodeUri"), str) and not properties["CodeUri"].startswith(
            "s3://"
        ):
            properties["CodeUri"] = f"s3://local-artifacts/{logical_id}.zip"
    return packaged
