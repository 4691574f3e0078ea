"""Always fails, so the caller sees X-Amz-Function-Error: Unhandled."""


def lambda_handler(event, context):
    reason = event.get("reason", "unknown") if isinstance(event, dict) else "unknown"
    raise ValueError("something went wrong: " + str(reason))
