"""template.yaml's GPU worker service: off by default, and when on, it drains the queue
instead of the Lambda, one GPU per task, scaled on the backlog per task."""

from __future__ import annotations

import pytest

from infra.template import load_template, translate


@pytest.fixture(scope="module")
def template():
    return translate(load_template(), {"Stage": "local"})


def test_every_gpu_resource_exists_only_when_gpu_workers_are_asked_for(template):
    # GIVEN the template's parameters and conditions
    assert template["Parameters"]["GpuWorkers"]["Default"] == 0
    assert template["Conditions"]["GpuWorkersOn"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "GpuWorkers"}, 0]}]
    }
    # THEN each GPU resource is conditional on it
    gpu = {name: r for name, r in template["Resources"].items() if name.startswith("Gpu")}
    assert {"GpuCluster", "GpuWorkerService", "GpuWorkerBacklogScaling"} <= set(gpu)
    assert {r.get("Condition") for r in gpu.values()} == {"GpuWorkersOn"}


def test_the_lambda_trigger_is_disabled_while_the_gpu_service_runs(template):
    trigger = template["Resources"]["InferenceFunctionFrameJobs"]["Properties"]
    assert trigger["Enabled"] == {"Fn::If": ["GpuWorkersOn", False, True]}


def test_a_task_takes_one_gpu_and_the_service_scales_on_backlog_per_task(template):
    resources = template["Resources"]
    [container] = resources["GpuWorkerTaskDefinition"]["Properties"]["ContainerDefinitions"]
    assert container["ResourceRequirements"] == [{"Type": "GPU", "Value": "1"}]
    environment = {e["Name"]: e["Value"] for e in container["Environment"]}
    assert environment["JOBS_QUEUE_URL"] == {"Ref": "JobsQueue"}
    assert environment["DEAD_LETTER_QUEUE_URL"] == {"Ref": "JobsDeadLetterQueue"}
    target = resources["GpuWorkerScalableTarget"]["Properties"]
    assert target["MaxCapacity"] == {"Ref": "GpuWorkers"}
    policy = resources["GpuWorkerBacklogScaling"]["Properties"]
    tracking = policy["TargetTrackingScalingPolicyConfiguration"]
    assert tracking["TargetValue"] == {"Ref": "GpuBacklogPerTask"}
    [returned] = [
        m for m in tracking["CustomizedMetricSpecification"]["Metrics"] if m["ReturnData"]
    ]
    assert returned["Expression"].startswith("backlog / tasks")
    # AND the instances come from the ECS GPU AMI named in SSM
    assert template["Parameters"]["GpuAmiId"]["Default"].startswith(
        "/aws/service/ecs/optimized-ami/amazon-linux-2/gpu/"
    )
