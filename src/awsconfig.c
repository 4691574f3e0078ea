/*-------------------------------------------------------------------------
 *
 * awsconfig.c
 *	  The AWS shared config and credentials files, read as the SDKs read them.
 *
 * ~/.aws/credentials has sections "[name]", ~/.aws/config "[profile name]"
 * (and "[default]"); AWS_SHARED_CREDENTIALS_FILE and AWS_CONFIG_FILE move
 * them.  A key is looked up in the credentials file first; parse.c reads
 * the INI text.  The files are re-read on every lookup: lookups happen
 * only when credentials are (re)fetched.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage/fd.h"

#include "awslambda.h"
#include "parse.h"


/* The server OS user's home directory, for the default file locations. */
static const char *
home_directory(void)
{
	const char *home = getenv("HOME");
	struct passwd *pw;

	if (home && home[0])
		return home;
	pw = getpwuid(geteuid());
	return pw ? pw->pw_dir : NULL;
}

/* Path of the credentials (or config) file, or NULL if none can be named. */
char *
awl_config_file_path(bool credentials_file)
{
	const char *env = getenv(credentials_file ? "AWS_SHARED_CREDENTIALS_FILE" : "AWS_CONFIG_FILE");
	const char *home;

	if (env && env[0])
	{
		if (env[0] == '~' && env[1] == '/' && (home = home_directory()) != NULL)
			return psprintf("%s%s", home, env + 1);
		return pstrdup(env);
	}
	home = home_directory();
	if (home == NULL)
		return NULL;
	return psprintf("%s/.aws/%s", home, credentials_file ? "credentials" : "config");
}

#define MAX_CONFIG_FILE (1024 * 1024)

/*
 * Value of key in the profile's section of one file, palloc'd, or NULL.
 * *found_section tells whether the section exists at all.  The file's
 * text may hold secrets: it is wiped before it is freed.
 */
static char *
file_value(const char *path, bool credentials_file, const char *profile,
		   const char *key, bool *found_section)
{
	FILE	   *f;
	struct stat st;
	size_t		size;
	char	   *text;
	size_t		len;
	char	   *v;
	char	   *result = NULL;

	if (path == NULL || (f = AllocateFile(path, "r")) == NULL)
		return NULL;
	/* A buffer the size of the file (these files are small), at most 1 MB. */
	size = (fstat(fileno(f), &st) == 0 && st.st_size > 0) ? (size_t) st.st_size : 0;
	size = Min(size, MAX_CONFIG_FILE);
	text = palloc(size + 1);
	len = fread(text, 1, size, f);
	FreeFile(f);
	v = awl_ini_lookup(text, len, credentials_file, profile, key, found_section);
	explicit_bzero(text, len);
	pfree(text);
	if (v)
	{
		result = pstrdup(v);
		explicit_bzero(v, strlen(v));
		free(v);
	}
	return result;
}

char *
awl_config_value(const char *profile, const char *key, bool *profile_exists)
{
	bool		found = false;
	char	   *path = awl_config_file_path(true);
	char	   *v = file_value(path, true, profile, key, &found);

	if (v == NULL)
	{
		path = awl_config_file_path(false);
		v = file_value(path, false, profile, key, &found);
	}
	if (profile_exists)
		*profile_exists = *profile_exists || found;
	return v;
}

const char *
awl_profile_name(bool *explicit_choice)
{
	const char *env = getenv("AWS_PROFILE");

	*explicit_choice = true;
	if (awl_profile && awl_profile[0])
		return awl_profile;
	if (env && env[0])
		return env;
	*explicit_choice = false;
	return "default";
}
