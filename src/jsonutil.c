/*-------------------------------------------------------------------------
 *
 * jsonutil.c
 *	  JSON checks and extraction for awslambda.
 *
 * Payloads are validated with PostgreSQL's own JSON parser, so awslambda
 * accepts exactly what the json type accepts.  Responses (error documents,
 * instance-metadata credentials) are read with json-c; every json-c object
 * is released before this file returns, so none outlives an ereport().
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>
#include <json.h>

#include "common/jsonapi.h"
#include "mb/pg_wchar.h"

#include "awslambda.h"

/* Runs PostgreSQL's JSON parser over text in the database encoding. */
static JsonParseErrorType
parse_json(const char *json, size_t len, JsonLexContext **lex)
{
	*lex = awl_json_lex_context(json, len, GetDatabaseEncoding());
	return pg_parse_json(*lex, &nullSemAction);
}

void
awl_json_validate(const char *json, size_t len, const char *argname)
{
	JsonLexContext *lex;
	JsonParseErrorType rc = parse_json(json, len, &lex);

	if (rc != JSON_SUCCESS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("argument \"%s\" is not valid JSON", argname),
				 errdetail("%s", json_errdetail(rc, lex)),
				 errhint("Lambda payloads must be JSON documents, for example '{\"key\": \"value\"}'.")));
}

bool
awl_json_is_valid(const char *json, size_t len)
{
	JsonLexContext *lex;

	return parse_json(json, len, &lex) == JSON_SUCCESS;
}

/*
 * Reads the named members of a JSON object into palloc'd strings (NULL when
 * absent or null; non-string values as JSON text).  False if the text is not
 * a JSON object.
 */
bool
awl_json_get_strings(const char *json, size_t len,
					 const char *const *keys, char **values, int nkeys)
{
	struct json_tokener *tok;
	struct json_object *root;
	int			i;

	for (i = 0; i < nkeys; i++)
		values[i] = NULL;
	if (len > INT_MAX)
		return false;

	tok = json_tokener_new();
	if (tok == NULL)
		return false;
	root = json_tokener_parse_ex(tok, json, (int) len);
	if (root != NULL && json_tokener_get_error(tok) == json_tokener_success &&
		json_object_is_type(root, json_type_object))
	{
		for (i = 0; i < nkeys; i++)
		{
			struct json_object *member;

			if (!json_object_object_get_ex(root, keys[i], &member) || member == NULL)
				continue;
			if (json_object_is_type(member, json_type_string))
				values[i] = pnstrdup(json_object_get_string(member),
									 json_object_get_string_len(member));
			else
				values[i] = pstrdup(json_object_to_json_string_ext(member, JSON_C_TO_STRING_PLAIN));
		}
		json_object_put(root);
		json_tokener_free(tok);
		return true;
	}
	if (root)
		json_object_put(root);
	json_tokener_free(tok);
	return false;
}
