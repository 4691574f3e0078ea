/*-------------------------------------------------------------------------
 *
 * pg_compat.h
 *	  Every spelling that differs between the supported PostgreSQL majors
 *	  (15, 16, 17 and 18), keyed on PG_VERSION_NUM, so the rest of the code
 *	  reads as one version.  No other file tests PG_VERSION_NUM.
 *
 * The macros expand where they are used, so each caller includes the
 * headers that declare what it calls (utils/acl.h, catalog/pg_proc.h, ...).
 *
 *-------------------------------------------------------------------------
 */
#ifndef AWL_PG_COMPAT_H
#define AWL_PG_COMPAT_H

#include "utils/guc.h"
#include "utils/wait_event.h"

/*
 * A function that never returns: 18 replaced pg_attribute_noreturn(), which
 * followed the declarator, with pg_noreturn, which precedes the declaration.
 * GCC and Clang accept the attribute in front as well.
 */
#if PG_VERSION_NUM < 180000
#define pg_noreturn pg_attribute_noreturn()
#endif

/*
 * Frees a string ParseLongOption() returned: malloc'd before 16, in the GUC
 * memory context from 16 on.
 */
#if PG_VERSION_NUM >= 160000
#define awl_guc_free(p) guc_free(p)
#else
#define awl_guc_free(p) free(p)
#endif

/*
 * Every setting of the server as the GUC tables hold them, their number in
 * *n: 16 returns the number through an argument.
 */
#if PG_VERSION_NUM >= 160000
#define awl_get_guc_variables(n) get_guc_variables(n)
#else
#define awl_get_guc_variables(n) (*(n) = GetNumConfigOptions(), get_guc_variables())
#endif

/*
 * Privilege and ownership checks: 16 replaced the per-catalog functions by
 * object_aclcheck() and object_ownercheck().
 */
#if PG_VERSION_NUM >= 160000
#define awl_proc_aclcheck(fn, role, mode) \
	object_aclcheck(ProcedureRelationId, (fn), (role), (mode))
#define awl_database_ownercheck(db, role) \
	object_ownercheck(DatabaseRelationId, (db), (role))
#else
#define awl_proc_aclcheck(fn, role, mode) pg_proc_aclcheck((fn), (role), (mode))
#define awl_database_ownercheck(db, role) pg_database_ownercheck((db), (role))
#endif

/* A qualified name's parts; 16 added a soft-error context (NULL: raise). */
#if PG_VERSION_NUM >= 160000
#define awl_string_to_qualified_name_list(s) stringToQualifiedNameList((s), NULL)
#else
#define awl_string_to_qualified_name_list(s) stringToQualifiedNameList(s)
#endif

/*
 * A lexer over len bytes of JSON text in encoding enc, without de-escaping;
 * 17 takes the context to fill (NULL: palloc one) and a size_t length.
 */
#if PG_VERSION_NUM >= 170000
#define awl_json_lex_context(json, len, enc) \
	makeJsonLexContextCstringLen(NULL, (json), (len), (enc), false)
#else
#define awl_json_lex_context(json, len, enc) \
	makeJsonLexContextCstringLen(unconstify(char *, (json)), (int) (len), (enc), false)
#endif

/*
 * The wait event for a wait of ours: from 17 a named one (shown as such in
 * pg_stat_activity and pg_wait_events), before it the generic "Extension".
 * See awl_wait_event().
 */
#if PG_VERSION_NUM >= 170000
#define awl_wait_event_named(name) WaitEventExtensionNew(name)
#else
#define awl_wait_event_named(name) ((void) (name), (uint32) PG_WAIT_EXTENSION)
#endif

/*
 * Base64 (common/base64.h) of bytes that 18 declares uint8, char before.
 */
#if PG_VERSION_NUM >= 180000
#define awl_b64_encode(src, len, dst, dstlen) \
	pg_b64_encode((const uint8 *) (src), (len), (dst), (dstlen))
#define awl_b64_decode(src, len, dst, dstlen) \
	pg_b64_decode((src), (len), (uint8 *) (dst), (dstlen))
#else
#define awl_b64_encode(src, len, dst, dstlen) \
	pg_b64_encode((src), (len), (dst), (dstlen))
#define awl_b64_decode(src, len, dst, dstlen) \
	pg_b64_decode((src), (len), (dst), (dstlen))
#endif

#endif							/* AWL_PG_COMPAT_H */
