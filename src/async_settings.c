/*-------------------------------------------------------------------------
 *
 * async_settings.c
 *	  The settings of the asynchronous side (awslambda.async_*), defined
 *	  from _PG_init and read by the files that use them: queue.c (the
 *	  mode), outcome.c (attempts), cleanup.c (retention) and callback.c
 *	  (the callback timeout); flow.c defines its own two.
 *
 * A file of its own so that the dispatcher's work reads them without
 * calling back into dispatcher.c, which calls that work.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "utils/guc.h"

#include "dispatcher.h"
#include "flow.h"

/* Settings of the asynchronous side (see awl_async_define_settings). */
int			awl_async_mode = AWL_ASYNC_EVENT;
int			awl_async_max_attempts = 10;
int			awl_async_retention_s = 86400;
int			awl_async_failed_retention_s = -1;
int			awl_async_callback_timeout_ms = 60000;

static const struct config_enum_entry async_mode_options[] = {
	{"event", AWL_ASYNC_EVENT, false},
	{"request_response", AWL_ASYNC_REQUEST_RESPONSE, false},
	{"immediate", AWL_ASYNC_IMMEDIATE, false},
	{NULL, 0, false}
};

void
awl_async_define_settings(void)
{
	DefineCustomEnumVariable("awslambda.async_mode",
							 "Sets how awslambda_fn_async sends its invocation.",
							 "event: queued, sent as Event after commit; request_response: queued, sent as RequestResponse after commit, the result kept; immediate: sent as Event at once, inside the statement, whatever becomes of the transaction.",
							 &awl_async_mode,
							 AWL_ASYNC_EVENT,
							 async_mode_options,
							 PGC_USERSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("awslambda.async_max_attempts",
							"Sets how many times the dispatcher tries a queued invocation in all.",
							"Retried with exponential backoff: throttling (429), server errors, timeouts and network failures. Other errors fail the invocation at once.",
							&awl_async_max_attempts,
							10, 1, 100,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("awslambda.async_retention",
							"Sets how long finished asynchronous invocations are kept.",
							"-1 keeps them until deleted by hand.",
							&awl_async_retention_s,
							86400, -1, INT_MAX,
							PGC_SIGHUP,
							GUC_UNIT_S,
							NULL, NULL, NULL);

	DefineCustomIntVariable("awslambda.async_failed_retention",
							"Sets how long failed asynchronous invocations are kept.",
							"-1 keeps them until deleted by hand (or queued again with awslambda_retry).",
							&awl_async_failed_retention_s,
							-1, -1, INT_MAX,
							PGC_SIGHUP,
							GUC_UNIT_S,
							NULL, NULL, NULL);

	DefineCustomIntVariable("awslambda.async_callback_timeout",
							"Sets how long a callback of an asynchronous invocation may run.",
							"A callback still running then is cancelled and its error recorded. 0 means no limit.",
							&awl_async_callback_timeout_ms,
							60000, 0, INT_MAX,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	awl_flow_define_settings();
}
