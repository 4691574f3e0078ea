"""A micro-batch handler (awslambda.async_batch_sizes): the event is
{"records": [...], "invocation_ids": [...]}; the answer has one result per
record, in order, so that each queued invocation gets its own response."""


def lambda_handler(event, context):
    records = event.get("records", [])
    ids = event.get("invocation_ids", [])
    return {"results": [{"n": r.get("n"), "id": i, "batch": len(records)}
                        for r, i in zip(records, ids)]}
