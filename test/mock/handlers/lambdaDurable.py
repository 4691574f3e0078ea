"""A durable function: Lambda starts one execution per durable execution
name and returns its ARN (X-Amz-Durable-Execution-Arn); the mock counts the
starts of each name (mockStats durable_executions)."""

DURABLE = True


def lambda_handler(event, context):
    return {"durable": True, "event": event}
