/*-------------------------------------------------------------------------
 *
 * parse_int.h
 *	  Small character and range helpers shared by the plain-C parsers
 *	  (parse.c, url.c, ini.c); nothing else includes it.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AWL_PARSE_INT_H
#define AWL_PARSE_INT_H

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* A malloc'd, NUL-terminated copy of s[0..len), or NULL when out of memory. */
static inline char *
copy_range(const char *s, size_t len)
{
	char	   *out = malloc(len + 1);

	if (out)
	{
		memcpy(out, s, len);
		out[len] = '\0';
	}
	return out;
}

/* ASCII classes: lower-case letter, digit, letter, letter or digit. */
static inline bool
is_lower(char c)
{
	return c >= 'a' && c <= 'z';
}

static inline bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static inline bool
is_letter(char c)
{
	return is_lower(c) || (c >= 'A' && c <= 'Z');
}

static inline bool
is_alnum(char c)
{
	return is_letter(c) || is_digit(c);
}

/* A blank of an INI or header line: space, tab or carriage return. */
static inline bool
is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* Trims blanks off [*s, *e). */
static inline void
trim_range(const char **s, const char **e)
{
	while (*s < *e && is_blank(**s))
		(*s)++;
	while (*e > *s && is_blank((*e)[-1]))
		(*e)--;
}


#endif							/* AWL_PARSE_INT_H */
