/*-------------------------------------------------------------------------
 *
 * flow.c
 *	  Per-function settings of the dispatcher, each a list of PATTERN=N:
 *	  awslambda.async_function_limits ("orders-*=4, audit=1", invocations in
 *	  flight at most) and awslambda.async_batch_sizes ("readings-*=100",
 *	  invocations sent as one micro-batch at most); and which entry a
 *	  function falls under.
 *
 * A pattern is matched like those of awslambda.allowed_functions: one with
 * a ':' against the function name as queued (ARNs), others against the
 * bare function name; the first pattern that matches applies.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "utils/guc.h"
#include "utils/memutils.h"

#include "flow.h"
#include "parse.h"

#define MAX_LIMITS		64

typedef struct FlowLimit
{
	char	   *pattern;
	int			limit;
} FlowLimit;

/* One setting, parsed once per process (a reload restarts the dispatcher). */
typedef struct FlowList
{
	const char *const *value;	/* the setting's variable */
	int			max;			/* largest N allowed */
	FlowLimit	entries[MAX_LIMITS];
	int			n;				/* -1: not parsed yet */
} FlowList;

/* The settings' values (see awl_flow_define_settings). */
static char *awl_async_function_limits = NULL;
static char *awl_async_batch_sizes = NULL;

static FlowList limits = {(const char *const *) &awl_async_function_limits, 10000, {{0}}, -1};
static FlowList batches = {(const char *const *) &awl_async_batch_sizes, 1000, {{0}}, -1};

static char *
trim(char *s)
{
	char	   *end;

	while (*s == ' ' || *s == '\t')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
		*--end = '\0';
	return s;
}

/*
 * Parses value into out (pattern strings allocated in the current memory
 * context); false with *why set when it is not a list of pattern=N, N from
 * 1 to max.
 */
static bool
parse_limits(const char *value, int max, FlowLimit *out, int *n, const char **why)
{
	char	   *list = pstrdup(value ? value : "");
	char	   *save = NULL;
	char	   *tok;

	*n = 0;
	for (tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
	{
		char	   *eq = strrchr(tok, '=');
		char	   *pattern;
		char	   *digits;
		char	   *end;
		long		limit;

		if (*trim(tok) == '\0')
			continue;
		if (eq == NULL)
		{
			*why = "Each entry is PATTERN=N.";
			return false;
		}
		*eq = '\0';
		pattern = trim(tok);
		digits = trim(eq + 1);
		errno = 0;
		limit = strtol(digits, &end, 10);
		if (*pattern == '\0' || *digits == '\0' || *end != '\0' || errno != 0 ||
			limit < 1 || limit > max)
		{
			*why = psprintf("Each entry is PATTERN=N, with a non-empty pattern and N from 1 to %d.", max);
			return false;
		}
		if (*n == MAX_LIMITS)
		{
			*why = "At most 64 entries.";
			return false;
		}
		out[*n].pattern = pattern;
		out[(*n)++].limit = (int) limit;
	}
	return true;
}

/*
 * Is value a valid awslambda.async_function_limits (or, with batch_sizes,
 * awslambda.async_batch_sizes)?  *why says what is wrong.
 */
static bool
flow_check(const char *value, bool batch_sizes, const char **why)
{
	FlowLimit	tmp[MAX_LIMITS];
	int			n;

	return parse_limits(value, batch_sizes ? batches.max : limits.max, tmp, &n, why);
}

static bool
check_function_limits(char **newval, void **extra, GucSource source)
{
	const char *why = NULL;

	if (flow_check(*newval, false, &why))
		return true;
	GUC_check_errdetail("%s", why);
	return false;
}

static bool
check_batch_sizes(char **newval, void **extra, GucSource source)
{
	const char *why = NULL;

	if (flow_check(*newval, true, &why))
		return true;
	GUC_check_errdetail("%s", why);
	return false;
}

void
awl_flow_define_settings(void)
{
	DefineCustomStringVariable("awslambda.async_function_limits",
							   "Limits how many invocations of matching functions the dispatcher has in flight.",
							   "Comma-separated PATTERN=N entries, patterns as in awslambda.allowed_functions; the first that matches applies. Empty: only awslambda.max_concurrency limits.",
							   &awl_async_function_limits,
							   "",
							   PGC_SIGHUP,
							   GUC_LIST_INPUT,
							   check_function_limits, NULL, NULL);

	DefineCustomStringVariable("awslambda.async_batch_sizes",
							   "Has the dispatcher send queued invocations of matching functions as micro-batches.",
							   "Comma-separated PATTERN=N entries, patterns as in awslambda.allowed_functions; the first that matches applies: up to N invocations of one function (same qualifier, region and invocation type) go as one Invoke whose payload is {\"records\": [...], \"invocation_ids\": [...]}. Empty: one Invoke each.",
							   &awl_async_batch_sizes,
							   "",
							   PGC_SIGHUP,
							   GUC_LIST_INPUT,
							   check_batch_sizes, NULL, NULL);
}

static void
load_list(FlowList *list)
{
	MemoryContext old;
	const char *why = NULL;

	if (list->n >= 0)
		return;
	old = MemoryContextSwitchTo(TopMemoryContext);
	if (!parse_limits(*list->value, list->max, list->entries, &list->n, &why))
		list->n = 0;			/* the check hook refused it already */
	MemoryContextSwitchTo(old);
}

/* The first entry of list whose pattern matches function_name, or -1. */
static int
match(FlowList *list, const char *function_name)
{
	AwlFunctionName parts;
	char	   *bare = NULL;
	int			i;

	load_list(list);
	if (list->n == 0)
		return -1;
	if (awl_function_name_parse(function_name, strlen(function_name), &parts))
		bare = pnstrdup(parts.name, parts.name_len);
	for (i = 0; i < list->n; i++)
	{
		const char *subject = strchr(list->entries[i].pattern, ':') ? function_name : bare;

		if (subject && awl_glob_match(list->entries[i].pattern, subject))
			break;
	}
	if (bare)
		pfree(bare);
	return i < list->n ? i : -1;
}

int
awl_flow_group(const char *function_name)
{
	return match(&limits, function_name);
}

int
awl_flow_limit(int group)
{
	load_list(&limits);
	return group >= 0 && group < limits.n ? limits.entries[group].limit : INT_MAX;
}

int
awl_flow_groups(void)
{
	load_list(&limits);
	return limits.n;
}

int
awl_flow_batch_size(const char *function_name)
{
	int			i = match(&batches, function_name);

	return i >= 0 ? batches.entries[i].limit : 1;
}
