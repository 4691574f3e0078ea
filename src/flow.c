/*-------------------------------------------------------------------------
 *
 * flow.c
 *	  Per-function flow control of the dispatcher: the limits of
 *	  awslambda.async_function_limits ("orders-*=4, audit=1"), and which
 *	  limit an invocation falls under.
 *
 * A pattern is matched like those of awslambda.allowed_functions: one with
 * a ':' against the function name as queued (ARNs), others against the
 * bare function name; the first pattern that matches applies.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "utils/memutils.h"

#include "awslambda.h"
#include "parse.h"

#define MAX_LIMITS		64

typedef struct FlowLimit
{
	char	   *pattern;
	int			limit;
} FlowLimit;

static FlowLimit limits[MAX_LIMITS];
static int	nlimits = -1;		/* -1: not parsed yet */

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
 * context); false with *why set when it is not a list of pattern=N.
 */
static bool
parse_limits(const char *value, FlowLimit *out, int *n, const char **why)
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
			*why = "Each entry is PATTERN=N, N in-flight invocations at most.";
			return false;
		}
		*eq = '\0';
		pattern = trim(tok);
		digits = trim(eq + 1);
		errno = 0;
		limit = strtol(digits, &end, 10);
		if (*pattern == '\0' || *digits == '\0' || *end != '\0' || errno != 0 ||
			limit < 1 || limit > 10000)
		{
			*why = "Each entry is PATTERN=N, with a non-empty pattern and N from 1 to 10000.";
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

bool
awl_flow_check(const char *value, const char **why)
{
	FlowLimit	tmp[MAX_LIMITS];
	int			n;

	return parse_limits(value, tmp, &n, why);
}

/* The limits of the setting as this process has it (a reload restarts the dispatcher). */
static void
load_limits(void)
{
	MemoryContext old;
	const char *why = NULL;

	if (nlimits >= 0)
		return;
	old = MemoryContextSwitchTo(TopMemoryContext);
	if (!parse_limits(awl_async_function_limits, limits, &nlimits, &why))
		nlimits = 0;			/* the check hook refused it already */
	MemoryContextSwitchTo(old);
}

int
awl_flow_group(const char *function_name)
{
	awl_function_name parts;
	char	   *bare = NULL;
	int			i;

	load_limits();
	if (nlimits == 0)
		return -1;
	if (awl_function_name_parse(function_name, strlen(function_name), &parts))
		bare = pnstrdup(parts.name, parts.name_len);
	for (i = 0; i < nlimits; i++)
	{
		const char *subject = strchr(limits[i].pattern, ':') ? function_name : bare;

		if (subject && awl_glob_match(limits[i].pattern, subject))
			break;
	}
	if (bare)
		pfree(bare);
	return i < nlimits ? i : -1;
}

int
awl_flow_limit(int group)
{
	load_limits();
	return group >= 0 && group < nlimits ? limits[group].limit : INT_MAX;
}

int
awl_flow_groups(void)
{
	load_limits();
	return nlimits;
}
