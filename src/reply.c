/*-------------------------------------------------------------------------
 *
 * reply.c
 *	  What a successful reply holds: its payload in the database encoding,
 *	  its headers as columns, and whether jsonb can take the payload.
 *
 * Everything from the reply is remote text: headers are bounded and
 * sanitized before they become columns or enter a message, and a payload
 * the database encoding cannot hold fails that invocation only, as an
 * error value, never a raise in the middle of a batch.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "mb/pg_wchar.h"

#include "invoke_int.h"
#include "parse.h"

AwlInvokeError *
awl_non_json_error(const char *function_name, const AwlInvokeResult *result)
{
	return awl_invoke_error(ERRCODE_PROTOCOL_VIOLATION,
					  psprintf("Lambda function \"%s\" returned a response that is not JSON",
							   function_name),
					  psprintf("The response has %zu bytes and starts with \"%s\".",
							   result->payload_len,
							   pnstrdup(result->payload,
										pg_mbcliplen(result->payload, (int) result->payload_len, 40))),
					  NULL);
}

/*
 * Converts valid UTF-8 to the database encoding without raising.  Returns
 * the text in the database encoding (s itself when nothing needs converting),
 * or NULL with *bad_at set to the byte offset of the first character the
 * database encoding cannot hold.
 */
static char *
utf8_to_server_noerror(const char *s, size_t len, size_t *outlen, size_t *bad_at)
{
	int			enc = GetDatabaseEncoding();
	Oid			proc;
	char	   *dest;
	int			done;

	*outlen = len;
	if (len == 0 || enc == PG_UTF8 || enc == PG_SQL_ASCII)
		return unconstify(char *, s);	/* SQL_ASCII takes the bytes as they are */
	proc = FindDefaultConversionProc(PG_UTF8, enc);
	if (!OidIsValid(proc))
	{
		*bad_at = 0;
		return NULL;
	}
	dest = palloc(len * MAX_CONVERSION_GROWTH + 1);
	done = pg_do_encoding_conversion_buf(proc, PG_UTF8, enc,
										 (unsigned char *) unconstify(char *, s), (int) len,
										 (unsigned char *) dest, (int) (len * MAX_CONVERSION_GROWTH + 1),
										 true);
	if (done < (int) len)
	{
		pfree(dest);
		*bad_at = (size_t) done;
		return NULL;
	}
	*outlen = strlen(dest);
	return dest;
}

/* "0xe2 0x82 0xac": the bytes of the UTF-8 character at s, for messages. */
static char *
utf8_char_bytes(const char *s, size_t left)
{
	StringInfoData buf;
	int			n = Min((int) left, pg_utf_mblen((const unsigned char *) s));
	int			j;

	initStringInfo(&buf);
	for (j = 0; j < n; j++)
		appendStringInfo(&buf, "%s0x%02x", j ? " " : "", (unsigned char) s[j]);
	return buf.data;
}

/* The error for a UTF-8 reply that holds a character the database encoding lacks. */
static AwlInvokeError *
untranslatable_error(const char *function_name, const char *s, size_t len, size_t at)
{
	/* The same message as PostgreSQL's own conversion error. */
	return awl_invoke_error(ERRCODE_UNTRANSLATABLE_CHARACTER,
					  psprintf("character with byte sequence %s in encoding \"%s\" has no equivalent in encoding \"%s\"",
							   utf8_char_bytes(s + at, len - at), pg_enc2name_tbl[PG_UTF8].name,
							   GetDatabaseEncodingName()),
					  psprintf("The response of Lambda function \"%s\" has %zu bytes; that character is at byte %zu.",
							   function_name, len, at),
					  NULL);
}

/* The code unit of "\uXXXX" at s (s[0] is the backslash), or -1. */
static long
unicode_escape(const char *s, const char *end)
{
	long		v = 0;
	int			j;

	if (end - s < 6 || s[0] != '\\' || s[1] != 'u')
		return -1;
	for (j = 2; j < 6; j++)
	{
		int			d = awl_hex_value(s[j]);

		if (d < 0)
			return -1;
		v = v * 16 + d;
	}
	return v;
}

/* jsonb's refusal of a payload: sqlstate with the facts in detail. */
static AwlInvokeError *
refusal(int sqlstate, const char *function_name, char *detail)
{
	return awl_invoke_error(sqlstate,
							psprintf("Lambda function \"%s\" returned a response that jsonb cannot hold",
									 function_name),
							detail, NULL);
}

/*
 * The code point of the \u escape at p (one, or a surrogate pair, which
 * *p is then moved past), -1 for a lone surrogate, -2 for no escape json-c
 * would leave to us; p points at the backslash and is left at its last
 * character.
 */
static long
escaped_code_point(const char **p, const char *end)
{
	long		cp = unicode_escape(*p, end);

	if (cp < 0)
		return -2;				/* json-c accepted it; not ours to judge */
	*p += 5;
	if (is_utf16_surrogate_first((pg_wchar) cp))
	{
		long		lo = unicode_escape(*p + 1, end);

		if (lo < 0 || !is_utf16_surrogate_second((pg_wchar) lo))
			return -1;
		*p += 6;
		return surrogate_pair_to_codepoint((pg_wchar) cp, (pg_wchar) lo);
	}
	return is_utf16_surrogate_second((pg_wchar) cp) ? -1 : cp;
}

/* Whether the database encoding has no equivalent of code point cp. */
static bool
untranslatable(long cp)
{
	unsigned char utf8[8] = {0};
	size_t		outlen;
	size_t		bad_at;

	unicode_to_utf8((pg_wchar) cp, utf8);
	return utf8_to_server_noerror((char *) utf8, strlen((char *) utf8), &outlen, &bad_at) == NULL;
}

/* Why jsonb would refuse a payload, or NULL; see awl_jsonb_payload_error. */
static AwlInvokeError *
jsonb_refusal(const char *function_name, const AwlInvokeResult *result)
{
	const char *s = result->payload;
	const char *end = s + result->payload_len;
	const char *p;
	bool		in_string = false;
	bool		utf8_db = GetDatabaseEncoding() == PG_UTF8;

	if (!awl_json_is_valid(result->payload, result->payload_len))
		return awl_non_json_error(function_name, result);

	/*
	 * json-c has read it; jsonb refuses more: \u0000, lone surrogates, and
	 * escapes of characters the database encoding cannot hold.  Escapes are
	 * ASCII, which every server encoding keeps as it is.
	 */
	for (p = s; p < end; p++)
	{
		long		cp;
		const char *at = p;

		if (*p == '"')
		{
			in_string = !in_string;
			continue;
		}
		if (!in_string || *p != '\\')
			continue;
		if (p + 1 < end && p[1] != 'u')
		{
			p++;				/* \" \\ \n ... */
			continue;
		}
		cp = escaped_code_point(&p, end);
		if (cp == -2)
			continue;
		if (cp == -1)
			return refusal(ERRCODE_PROTOCOL_VIOLATION, function_name,
						   psprintf("A \\u escape at byte %zu of %zu is a lone UTF-16 surrogate.",
									(size_t) (at - s), result->payload_len));
		if (cp == 0)
			return refusal(ERRCODE_UNTRANSLATABLE_CHARACTER, function_name,
						   psprintf("\\u0000 at byte %zu of %zu cannot be converted to text.",
									(size_t) (at - s), result->payload_len));
		if (cp > 0x7f && !utf8_db && untranslatable(cp))
			return refusal(ERRCODE_UNTRANSLATABLE_CHARACTER, function_name,
						   psprintf("The \\u escape of U+%04lX at byte %zu of %zu has no equivalent in encoding \"%s\".",
									cp, (size_t) (at - s),
									result->payload_len, GetDatabaseEncodingName()));
	}
	return NULL;
}

AwlInvokeError *
awl_jsonb_payload_error(const char *function_name, const AwlInvokeResult *result)
{
	AwlInvokeError *err = jsonb_refusal(function_name, result);

	if (err)
		err->http_status = result->status_code;
	return err;
}

void
awl_reply_result(const char *function_name, const AwlHttpResponse *resp,
				 AwlInvokeResult *result)
{
	size_t		bad_at = 0;

	if (!pg_verify_mbstr(PG_UTF8, resp->body, (int) resp->body_len, true))
	{
		result->error = awl_invoke_error(ERRCODE_PROTOCOL_VIOLATION,
										 psprintf("Lambda function \"%s\" returned a response that is not valid UTF-8",
												  function_name),
										 psprintf("The response has %zu bytes.", resp->body_len), NULL);
		return;
	}

	/* Headers are remote text too: bounded and sanitized like messages. */
	result->function_error = awl_remote_header(resp, "X-Amz-Function-Error", MAX_REMOTE_ID);
	result->executed_version = awl_remote_header(resp, "X-Amz-Executed-Version", MAX_REMOTE_ID);
	result->log_result = awl_remote_header(resp, "X-Amz-Log-Result", MAX_LOG_RESULT);
	result->request_id = awl_remote_header(resp, "x-amzn-RequestId", MAX_REMOTE_ID);
	result->durable_execution_arn = awl_remote_header(resp, "X-Amz-Durable-Execution-Arn",
													  MAX_REMOTE_ARN);

	/*
	 * Lambda speaks UTF-8; convert to the database encoding, without
	 * raising: a character the database cannot hold fails this invocation
	 * only, not the batch it is part of.
	 */
	result->payload = utf8_to_server_noerror(resp->body, resp->body_len,
											 &result->payload_len, &bad_at);
	if (result->payload == NULL)
	{
		AwlInvokeError *err = untranslatable_error(function_name, resp->body,
												   resp->body_len, bad_at);
		char	   *request_id = result->request_id;

		err->http_status = (int) resp->status;
		memset(result, 0, sizeof(*result));
		result->request_id = request_id;
		result->error = err;
	}
	else
		result->status_code = (int) resp->status;	/* last: complete */
}
