"""Lambda entry point of the ad server behind the HTTP API (payload format 2.0)."""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from adserver.api import AdServerDependencies, create_app
from adserver.registry import DynamoDBRegistry
from adserver.settings import AdServerSettings
from lambdas.observations import ObservationStore

logger = Logger(service="adserver")


@cache
def get_app() -> APIGatewayHttpResolver:
    """The resolver wired to the real tables, built once per container."""
    settings = AdServerSettings.from_environ()
    dynamodb = boto3.resource("dynamodb")
    deps = AdServerDependencies(
        settings=settings,
        observations=ObservationStore(dynamodb.Table(settings.observations_table)),
        registry=DynamoDBRegistry(dynamodb.Table(settings.registry_table)),
    )
    return create_app(deps)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return get_app().resolve(event, context)
