/*-------------------------------------------------------------------------
 *
 * secret.c
 *	  Secrets of the credentials area kept for the life of the backend, and
 *	  wiped when dropped.
 *
 * The cached credentials (credentials.c) and the instance-metadata session
 * token (imds.c) are copied into one memory context, "awslambda
 * credentials", created on first use; every copy is zeroed before it is
 * freed, so a secret does not linger in freed memory.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/memutils.h"

#include "credentials.h"

static MemoryContext secret_cxt = NULL;

char *
awl_secret_keep(const char *s)
{
	if (s == NULL)
		return NULL;
	if (secret_cxt == NULL)
		secret_cxt = AllocSetContextCreate(TopMemoryContext,
										   "awslambda credentials",
										   ALLOCSET_SMALL_SIZES);
	return MemoryContextStrdup(secret_cxt, s);
}

void
awl_secret_forget(char **s)
{
	if (*s)
	{
		explicit_bzero(*s, strlen(*s));
		pfree(*s);
		*s = NULL;
	}
}

void
awl_credentials_wipe(AwlCredentials *c)
{
	if (c->secret_access_key)
		explicit_bzero(unconstify(char *, c->secret_access_key), strlen(c->secret_access_key));
	if (c->session_token)
		explicit_bzero(unconstify(char *, c->session_token), strlen(c->session_token));
}
