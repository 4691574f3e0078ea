"""Returns a response of a requested size: {"size": n, "data": <n ASCII chars>}."""

PATTERN = "0123456789abcdef"


def lambda_handler(event, context):
    n = int(event["size"])
    data = (PATTERN * (n // len(PATTERN) + 1))[:n]
    return {"size": n, "data": data}
