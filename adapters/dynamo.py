"""DynamoDB client and the seat-lock table's definition (created idempotently)."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

EVENT_INDEX = "event_id-index"


def make_client(
    endpoint: str | None,
    region: str = "us-east-1",
    access_key: str = "testing",
    secret_key: str = "testing",
    max_attempts: int = 5,
    max_pool_connections: int = 64,
    connect_timeout: float = 2.0,
    read_timeout: float = 10.0,
) -> Any:
    """Throttling and transport errors are retried here, by botocore, never by hand."""
    config = Config(
        # total_max_attempts: the first call included (botocore's max_attempts counts retries)
        retries={"total_max_attempts": max_attempts, "mode": "adaptive"},
        max_pool_connections=max_pool_connections,
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
    )
    return boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        config=config,
    )


def ensure_seat_lock_table(client: Any, table: str) -> None:
    """pk ``"{event_id}#{seat_id}"``; a GSI on event_id for the seat map; TTL on expires_at."""
    try:
        client.create_table(
            TableName=table,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "event_id", "AttributeType": "S"},
            ],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": EVENT_INDEX,
                    "KeySchema": [{"AttributeName": "event_id", "KeyType": "HASH"}],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceInUseException":
            raise
    client.get_waiter("table_exists").wait(TableName=table, WaiterConfig={"Delay": 1})
    ttl = client.describe_time_to_live(TableName=table)["TimeToLiveDescription"]
    if ttl.get("TimeToLiveStatus") not in ("ENABLED", "ENABLING"):
        client.update_time_to_live(
            TableName=table,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"},
        )
