"""Sleeps event["seconds"] (default 5) before answering: timeout/cancel tests."""
import time


def lambda_handler(event, context):
    seconds = float(event.get("seconds", 5))
    time.sleep(seconds)
    return {"slept": seconds}
