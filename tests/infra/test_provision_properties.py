"""The local provisioner applies the template's settings of topics, queues, buckets and
tables, or refuses the template; it never drops one without a word."""

from __future__ import annotations

import copy
from typing import Any

import boto3
import pytest

from infra.provision import ProvisioningError, provision
from infra.template import load_template, translate
from tests.conftest import REGION, provision_template

STAGE_TAG = {"Key": "stage", "Value": "local"}


def test_versioning_tags_and_point_in_time_recovery_are_applied(aws: None) -> None:
    # GIVEN template.yaml provisioned on moto
    stack = provision_template("props")
    s3, sns = boto3.client("s3", region_name=REGION), boto3.client("sns", region_name=REGION)
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    # THEN the catalog bucket keeps versions and carries the stage tag
    catalog = stack.outputs["CatalogBucketName"]
    assert s3.get_bucket_versioning(Bucket=catalog)["Status"] == "Enabled"
    assert STAGE_TAG in s3.get_bucket_tagging(Bucket=catalog)["TagSet"]
    # AND the topics carry it
    topic = stack.outputs["FramesTopicArn"]
    assert STAGE_TAG in sns.list_tags_for_resource(ResourceArn=topic)["Tags"]
    # AND the observations table has point-in-time recovery and the tag
    table = stack.outputs["ObservationsTableName"]
    backups = dynamodb.describe_continuous_backups(TableName=table)["ContinuousBackupsDescription"]
    assert backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"
    arn = dynamodb.describe_table(TableName=table)["Table"]["TableArn"]
    assert STAGE_TAG in dynamodb.list_tags_of_resource(ResourceArn=arn)["Tags"]


def test_a_property_the_local_stack_does_not_apply_is_refused(aws: None) -> None:
    # GIVEN the template with a bucket setting the provisioner knows nothing of
    template: dict[str, Any] = copy.deepcopy(load_template())
    catalog = template["Resources"]["CatalogBucket"]["Properties"]
    catalog["AccelerateConfiguration"] = {"AccelerationStatus": "Enabled"}
    # WHEN it is provisioned THEN it stops, naming the resource and the property
    with pytest.raises(ProvisioningError) as refused:
        provision(
            translate(template, {"Stage": "local"}),
            boto3.session.Session(region_name=REGION),
            stack_name="refuse-test",
            parameters={"Stage": "local"},
        )
    assert str(refused.value).startswith(
        "CatalogBucket: AWS::S3::Bucket AccelerateConfiguration not applied by the local stack"
    )


def test_the_xray_policy_is_left_out_without_a_note_on_every_start(aws: None) -> None:
    # GIVEN template.yaml, whose functions' roles carry AWS's X-Ray write policy
    # WHEN it is provisioned on moto
    stack = provision_template("notes")
    # THEN no note is made of a policy that only sends traces, which nothing does locally
    assert not [note for note in stack.notes if "xray" in note.lower()]
