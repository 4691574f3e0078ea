/*-------------------------------------------------------------------------
 *
 * batch.c
 *	  Micro-batches (awslambda.async_batch_sizes): up to N waiting
 *	  invocations of one function, qualifier, region and invocation type go
 *	  as one Invoke whose payload is {"records": [...], "invocation_ids":
 *	  [...]}, and the answer is each one's outcome.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "deliver.h"

/* Could f and g go in one Invoke: same function, qualifier, region and type? */
static bool
same_text(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

static bool
same_target(const AwlInFlight *f, const AwlInFlight *g)
{
	return strcmp(f->queued_name, g->queued_name) == 0 &&
		same_text(f->req.tenant_id, g->req.tenant_id) &&
		g->req.durable_execution_name == NULL &&
		f->c.request_response == g->c.request_response &&
		strcmp(f->req.region, g->req.region) == 0 &&
		((f->req.qualifier == NULL && g->req.qualifier == NULL) ||
		 (f->req.qualifier && g->req.qualifier && strcmp(f->req.qualifier, g->req.qualifier) == 0));
}

/*
 * Makes pipeline[first] a micro-batch: it carries up to batch_size - 1 more
 * waiting invocations of the same target (oldest first) while the payload
 * {"records": [...], "invocation_ids": [...]} stays within Lambda's limit
 * for the invocation type.  Always that form, even for one record, so that
 * the function sees one shape.  The ids travel in the payload (a client
 * context could not hold many).
 */
bool
awl_batch_form(AwlInFlight **pipeline, int npipeline, int first)
{
	AwlInFlight   *f = pipeline[first];
	size_t		max = awl_payload_limit(f->c.request_response ? "RequestResponse" : "Event");
	/* {"records":[...],"invocation_ids":[...]} and one record's share of it */
	size_t		size = 34 + f->req.payload_len + 38;
	MemoryContext old = MemoryContextSwitchTo(f->cxt);
	StringInfoData records;
	StringInfoData ids;
	int			i;
	int			k;

	if (size > max)
	{
		/* Not sent at all: unwrapped, it would reach the function in another shape. */
		AwlInvokeError *err = palloc0(sizeof(AwlInvokeError));

		err->sqlstate = ERRCODE_INVALID_PARAMETER_VALUE;
		err->message = psprintf("the payload of invocation %s is too large for a micro-batch", f->c.id);
		err->detail = psprintf("With awslambda.async_batch_sizes, a payload of %zu bytes becomes %zu bytes; Lambda accepts at most %zu bytes for invocation type %s.",
							   f->req.payload_len, size, max, f->req.invocation_type);
		memset(&f->result, 0, sizeof(AwlInvokeResult));
		f->result.error = err;
		f->answered = true;
		MemoryContextSwitchTo(old);
		return false;
	}

	f->members = palloc(Max(f->batch_size - 1, 1) * sizeof(AwlInFlight *));
	f->nmembers = 0;
	for (i = first + 1; i < npipeline && f->nmembers < f->batch_size - 1; i++)
	{
		AwlInFlight   *g = pipeline[i];

		if (g->started || g->answered || !same_target(f, g))
			continue;
		if (size + g->req.payload_len + 1 + 39 > max)
			break;
		size += g->req.payload_len + 1 + 39;
		f->req.retry = f->req.retry || g->req.retry;	/* statistics */
		f->members[f->nmembers++] = g;
		g->started = true;		/* in flight with f */
	}
	initStringInfo(&records);
	initStringInfo(&ids);
	appendStringInfoString(&records, "{\"records\":[");
	appendBinaryStringInfo(&records, f->req.payload, (int) f->req.payload_len);
	appendStringInfo(&ids, "\"%s\"", f->c.id);
	for (k = 0; k < f->nmembers; k++)
	{
		appendStringInfoChar(&records, ',');
		appendBinaryStringInfo(&records, f->members[k]->req.payload,
							   (int) f->members[k]->req.payload_len);
		appendStringInfo(&ids, ",\"%s\"", f->members[k]->c.id);
	}
	appendStringInfo(&records, "],\"invocation_ids\":[%s]}", ids.data);
	f->req.payload = records.data;
	f->req.payload_len = records.len;
	f->req.client_context = NULL;
	pfree(ids.data);
	MemoryContextSwitchTo(old);
	return true;
}

/*
 * If json (which jsonb accepts) is an object whose "results" member is an
 * array of n elements, puts each element's text in each[] and returns true.
 */
static bool
results_of(const char *json, int n, char **each)
{
	Jsonb	   *jb = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(json)));
	JsonbValue	key;
	JsonbValue *array;
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	int			k = 0;

	if (!JB_ROOT_IS_OBJECT(jb))
		return false;
	key.type = jbvString;
	key.val.string.val = "results";
	key.val.string.len = 7;
	array = findJsonbValueFromContainer(&jb->root, JB_FOBJECT, &key);
	if (array == NULL || array->type != jbvBinary ||
		!JsonContainerIsArray(array->val.binary.data) ||
		JsonContainerSize(array->val.binary.data) != (uint32) n)
		return false;
	it = JsonbIteratorInit(array->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok != WJB_ELEM)
			continue;
		if (v.type == jbvBinary)
			each[k++] = JsonbToCString(NULL, v.val.binary.data, v.val.binary.len);
		else
		{
			Jsonb	   *scalar = JsonbValueToJsonb(&v);

			each[k++] = JsonbToCString(NULL, &scalar->root, VARSIZE(scalar));
		}
	}
	return k == n;
}

/*
 * The outcome of a micro-batch is each of its invocations' outcome.  A
 * RequestResponse function that answers {"results": [...]} with one element
 * per record gives each invocation its own element as its response.
 */
void
awl_batch_share_outcome(AwlInFlight *f)
{
	char	  **each = NULL;
	int			k;

	if (f->members == NULL)
		return;
	if (f->c.request_response && f->result.error == NULL && f->result.function_error == NULL &&
		f->result.payload)
	{
		MemoryContext old = MemoryContextSwitchTo(f->cxt);

		each = palloc((f->nmembers + 1) * sizeof(char *));
		/* Through jsonb, which keeps numbers exact (what jsonb refuses is left whole). */
		if (awl_jsonb_payload_error(f->c.function_name, &f->result) != NULL ||
			!results_of(f->result.payload, f->nmembers + 1, each))
			each = NULL;
		MemoryContextSwitchTo(old);
	}
	for (k = 0; k < f->nmembers; k++)
	{
		AwlInFlight   *g = f->members[k];

		g->result = f->result;
		if (each)
		{
			g->result.payload = each[k + 1];
			g->result.payload_len = strlen(each[k + 1]);
		}
		g->started = false;
		g->answered = true;
	}
	if (each)
	{
		f->result.payload = each[0];
		f->result.payload_len = strlen(each[0]);
	}
}
