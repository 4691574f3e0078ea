"""A function with tenant isolation (TenancyConfig PER_TENANT): every
invocation must carry a tenant id, which the handler sees; no published
version (so $LATEST.PUBLISHED answers NoPublishedVersionException)."""

TENANT_ISOLATION = True
PUBLISHED_VERSIONS = False


def lambda_handler(event, context):
    return {"tenant": context.tenant_id, "event": event}
