/*-------------------------------------------------------------------------
 *
 * parse.h
 *	  Parsers of untrusted text, in plain C without PostgreSQL, so that the
 *	  fuzz targets in test/fuzz/ can run them on their own.
 *
 * Strings returned are malloc'd (NULL when absent or out of memory).
 *
 *-------------------------------------------------------------------------
 */
#ifndef AWL_PARSE_H
#define AWL_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/* Glob match with '*' (any run) and '?' (one character). */
extern bool awl_glob_match(const char *pattern, const char *s);

/* Is this a region name: lower-case letters, digits and dashes, 1..64 chars, a letter? */
extern bool awl_region_name_ok(const char *s, size_t len);

/* The qualifier part of any function-name form ("fn:q", "...:function:fn:q"), or NULL. */
extern const char *awl_name_qualifier(const char *name);

/* The bare function name in any name form: start and length within name. */
extern const char *awl_bare_name(const char *name, size_t *len);

/*
 * A full function ARN, arn:PARTITION:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER].
 * On success the partition and region are copied (NUL-terminated) into the
 * caller's buffers of the given size.
 */
extern bool awl_arn_parse(const char *arn, char *partition, size_t partition_size,
						  char *region, size_t region_size);

/*
 * The value of key in the profile's section of an AWS config or credentials
 * file held in text ("[name]" in a credentials file, "[profile name]" or
 * "[default]" in a config file); sets *found_section when the section exists.
 */
extern char *awl_ini_lookup(const char *text, size_t len, bool credentials_file,
							const char *profile, const char *key, bool *found_section);

/* An HTTP header's value (trimmed) in a block of "Name: value" lines, or NULL. */
extern char *awl_header_value(const char *headers, const char *name);

/* Text of the first <tag>...</tag> in an XML document, entities decoded, or NULL. */
extern char *awl_xml_text(const char *xml, const char *tag);

/*
 * An Expiration time of an AWS credentials document (instance metadata,
 * containers, credential_process, STS): "YYYY-MM-DDTHH:MM:SS", an optional
 * fraction of a second (ignored), then "Z" or "+00:00" and the end of the
 * string, as seconds since the epoch (UTC).  (time_t) -1 for NULL or
 * anything else; reads nothing past the terminating NUL.  The numbers are
 * read with sscanf, so each may have fewer digits, leading blanks or a sign,
 * and fields out of range are normalised by timegm() ("24:00:00" is the next
 * day); 1969-12-31T23:59:59Z cannot be told from a failure.
 */
extern time_t awl_parse_iso8601(const char *s);

#endif							/* AWL_PARSE_H */
