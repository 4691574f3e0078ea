"""The article's trigger target: receives one temperature reading per row."""


def lambda_handler(event, context):
    return {"received": event}
