/*-------------------------------------------------------------------------
 *
 * parse.h
 *	  Parsers of untrusted text, in plain C without PostgreSQL, so that the
 *	  fuzz targets in test/fuzz/ can run them on their own.
 *
 * Strings returned are malloc'd (NULL when absent or out of memory).
 *
 * Used by every file that reads outside text (names, headers, XML, config
 * files, URLs, ISO 8601 times); parse.c, url.c and ini.c call nothing but
 * each other (parse_int.h) and libc.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AWL_PARSE_H
#define AWL_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/* The value of a hexadecimal digit, or -1. */
extern int	awl_hex_value(char c);

/* Glob match with '*' (any run) and '?' (one character). */
extern bool awl_glob_match(const char *pattern, const char *s);

/* Is this a region name: lower-case letters, digits and dashes, 1..64 chars, a letter? */
extern bool awl_region_name_ok(const char *s, size_t len);

/* Lambda's limits: a whole function name, its bare name part, a qualifier. */
#define AWL_MAX_FUNCTION_NAME	256
#define AWL_MAX_BARE_NAME		64
#define AWL_MAX_QUALIFIER		128

/*
 * The parts of a function name; each points into the parsed string (not
 * NUL-terminated) with its length, NULL and 0 when the form has no such part.
 */
typedef struct AwlFunctionName
{
	bool		full_arn;		/* arn:PARTITION:lambda:... */
	const char *partition;		/* full ARN only; may be empty ("arn::lambda:...") */
	size_t		partition_len;
	const char *region;			/* full ARN, or a partial form REGION:... */
	size_t		region_len;
	const char *account;		/* 12 digits */
	size_t		account_len;
	const char *name;			/* the bare function name, never NULL on success */
	size_t		name_len;
	const char *qualifier;		/* $LATEST, $LATEST.PUBLISHED, a version or an alias */
	size_t		qualifier_len;
} AwlFunctionName;

/*
 * Matches s[0..len) as a whole against Lambda's FunctionName pattern
 *   (arn:(aws[a-zA-Z-]*)?:lambda:REGION:\d{12}:|((REGION:)?(\d{12}:)?))
 *   (function:)?([a-zA-Z0-9-_.]+)(:(\$LATEST(\.PUBLISHED)?|[a-zA-Z0-9-_]+))?
 * with REGION = (eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}, and
 * the limits: 1..256 bytes in all, bare name at most 64, qualifier at most
 * 128.  Where the pattern can be read in several ways, the parts are those
 * of a regular-expression engine's first match (an optional part is taken
 * when it can be), as Lambda reads them: "function:x", "us-east-1:x" and
 * "123456789012:x" all name the function "x".  Returns false (and zeroes
 * *out) for anything else.  Never reads past s + len; NUL bytes are not
 * name characters.
 */
extern bool awl_function_name_parse(const char *s, size_t len, AwlFunctionName *out);

/*
 * Is s[0..len) a valid Invoke Qualifier: $LATEST, $LATEST.PUBLISHED or
 * 1..128 characters of [a-zA-Z0-9-_$]?
 */
extern bool awl_qualifier_ok(const char *s, size_t len);

/*
 * The parts of a URL scheme://[userinfo@]host[:port][path][?query][#fragment];
 * the strings point into the parsed URL with their lengths (NULL/0 when
 * absent; path may be empty).
 */
typedef struct AwlUrl
{
	const char *scheme;
	size_t		scheme_len;
	const char *userinfo;		/* everything before the authority's last '@' */
	size_t		userinfo_len;
	const char *host;			/* without the brackets of an IPv6 literal */
	size_t		host_len;
	bool		host_is_ipv6;
	unsigned char host_addr[16];	/* the IPv6 address when host_is_ipv6 */
	int			port;			/* -1 when absent */
	const char *path;
	size_t		path_len;
	const char *query;
	size_t		query_len;
	const char *fragment;
	size_t		fragment_len;
} AwlUrl;

/*
 * Splits an absolute URL with an authority.  Returns false (the URL is not
 * to be used) unless: the scheme is a letter then letters, digits, '+', '-'
 * or '.'; "://" follows; the host is non-empty and either an IPv6 literal in
 * brackets (any RFC 4291 spelling, no zone) or letters, digits, '-', '.',
 * '_' and bytes from 0x80 (no '%'-escapes); a port, if there is a ':', is 1..65535 in at most 5 digits; and the
 * URL holds no control characters, spaces or DEL.  It does not judge the
 * scheme or the user information: see the callers' checks.
 */
extern bool awl_url_parse(const char *url, AwlUrl *out);

/* Is the parsed URL's scheme this one (ASCII case-insensitive)? */
extern bool awl_url_scheme_is(const AwlUrl *u, const char *scheme);

/*
 * May container credentials (and the authorization token) be fetched from
 * this URL?  True for any https URL, and for http only when the host, as a
 * whole, is a loopback address (127.0.0.0/8 as a full dotted quad, ::1 in
 * any spelling, or ::ffff: followed by one of the IPv4 addresses allowed
 * here), 169.254.170.2 (ECS), 169.254.170.23 or fd00:ec2::23 (EKS Pod
 * Identity), or "localhost" (any case).  False for URLs awl_url_parse
 * refuses, user information, and every other scheme.
 */
extern bool awl_container_url_allowed(const char *url);

/*
 * The value of key in the profile's section of an AWS config or credentials
 * file held in text ("[name]" in a credentials file, "[profile name]" or
 * "[default]" in a config file); sets *found_section when the section exists.
 */
extern char *awl_ini_lookup(const char *text, size_t len, bool credentials_file,
							const char *profile, const char *key, bool *found_section);

/*
 * The value of key in the service's block of a "[services NAME]" section of
 * an AWS config file, as the SDKs' service-specific settings are written:
 *   [services NAME]
 *   lambda =
 *     endpoint_url = http://localhost:4566
 * (a line "SERVICE =" with no value, then lines indented under it).  Sets
 * *found_section when the section exists.
 */
extern char *awl_ini_services_lookup(const char *text, size_t len, const char *section,
									 const char *service, const char *key,
									 bool *found_section);

/*
 * Is url an endpoint URL awslambda may send to: http:// or https://, a
 * host (an IPv6 literal in brackets), a valid port if any, and no user
 * information, query or fragment (see awl_url_parse)?
 */
extern bool awl_endpoint_url_ok(const char *url);

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
