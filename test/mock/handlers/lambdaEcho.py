"""Returns the event unchanged (payload round-trip tests)."""


def lambda_handler(event, context):
    return event
