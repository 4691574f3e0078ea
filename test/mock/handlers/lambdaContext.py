"""Returns what the runtime told the function about this call: the client
context (custom, env, client), the version that ran and the invoked ARN."""


def lambda_handler(event, context):
    cc = context.client_context
    return {
        "event": event,
        "client_context": None if cc is None else
        {"custom": cc.custom, "env": cc.env, "client": cc.client},
        "function_version": context.function_version,
        "invoked_function_arn": context.invoked_function_arn,
    }
