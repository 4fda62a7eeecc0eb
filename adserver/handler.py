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
from adserver.catalog import S3CatalogSource, seed_catalog
from adserver.impressions import DynamoImpressionStore
from adserver.registry import DynamoDBRegistry
from adserver.rollups import DynamoRollups
from adserver.settings import AdServerSettings
from adserver.uploads import signing_client
from lambdas.observations import ObservationStore
from lambdas.tracker.store import DynamoTrackStore

logger = Logger(service="adserver")


@cache
def get_app() -> APIGatewayHttpResolver:
    """The resolver wired to the real tables, built once per container."""
    settings = AdServerSettings.from_environ()
    dynamodb = boto3.resource("dynamodb")
    rollups = DynamoRollups(dynamodb.Table(settings.rollups_table))
    catalog = S3CatalogSource(
        boto3.client("s3"),
        settings.catalog_bucket,
        settings.catalog_key,
        max_age_s=settings.catalog_max_age_s,
        fallback=seed_catalog(),
    )
    deps = AdServerDependencies(
        settings=settings,
        observations=ObservationStore(dynamodb.Table(settings.observations_table)),
        registry=DynamoDBRegistry(dynamodb.Table(settings.registry_table)),
        catalog=catalog.get,
        impressions=DynamoImpressionStore(
            dynamodb.Table(settings.impressions_table), rollups=rollups
        ),
        rollups=rollups,
        presence=(
            DynamoTrackStore(dynamodb.Table(settings.tracks_table))
            if settings.tracks_table
            else None
        ),
        frames_signer=signing_client(boto3.session.Session().region_name or "us-east-1"),
    )
    return create_app(deps)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return get_app().resolve(event, context)
