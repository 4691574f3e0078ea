/*-------------------------------------------------------------------------
 *
 * awsconfig.c
 *	  The AWS shared config and credentials files, read as the SDKs read them.
 *
 * ~/.aws/credentials has sections "[name]", ~/.aws/config "[profile name]"
 * (and "[default]"); AWS_SHARED_CREDENTIALS_FILE and AWS_CONFIG_FILE move
 * them.  A key is looked up in the credentials file first; parse.c reads
 * the INI text.  The files are re-read on every lookup: lookups happen
 * only when credentials are (re)fetched.  The profile in use is
 * awslambda.profile's, defined here; the environment is read here too.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage/fd.h"
#include "utils/guc.h"

#include "awsconfig.h"
#include "parse.h"

/* awslambda.profile */
static char *profile_setting = NULL;

void
awl_config_define_settings(GucStringAssignHook profile_changed)
{
	DefineCustomStringVariable("awslambda.profile",
							   "Sets the profile of the shared AWS config and credentials files to use.",
							   "Empty means AWS_PROFILE, then \"default\".",
							   &profile_setting,
							   "",
							   PGC_SUSET,
							   0,
							   NULL, profile_changed, NULL);
}

const char *
awl_env_nonempty(const char *name)
{
	const char *v = getenv(name);

	return (v != NULL && v[0] != '\0') ? v : NULL;
}

bool
awl_env_is_true(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && pg_strcasecmp(v, "true") == 0;
}

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
 * The text of a config or credentials file (at most 1 MB), palloc'd, or
 * NULL when it cannot be read.  It may hold secrets: the caller wipes it
 * (see wipe_text) before freeing it.
 */
static char *
read_text(const char *path, size_t *len)
{
	FILE	   *f;
	struct stat st;
	size_t		size;
	char	   *text;

	if (path == NULL || (f = AllocateFile(path, "r")) == NULL)
		return NULL;
	/* A buffer the size of the file (these files are small), at most 1 MB. */
	size = (fstat(fileno(f), &st) == 0 && st.st_size > 0) ? (size_t) st.st_size : 0;
	size = Min(size, MAX_CONFIG_FILE);
	text = palloc(size + 1);
	*len = fread(text, 1, size, f);
	FreeFile(f);
	return text;
}

/* A malloc'd value from parse.c as a palloc'd one; both copies wiped. */
static char *
take_value(char *v)
{
	char	   *result;

	if (v == NULL)
		return NULL;
	result = pstrdup(v);
	explicit_bzero(v, strlen(v));
	free(v);
	return result;
}

/*
 * Value of key in the profile's section of one file, palloc'd, or NULL.
 * *found_section tells whether the section exists at all.
 */
static char *
file_value(const char *path, bool credentials_file, const char *profile,
		   const char *key, bool *found_section)
{
	size_t		len = 0;
	char	   *text = read_text(path, &len);
	char	   *v;

	if (text == NULL)
		return NULL;
	v = awl_ini_lookup(text, len, credentials_file, profile, key, found_section);
	explicit_bzero(text, len);
	pfree(text);
	return take_value(v);
}

char *
awl_config_services_value(const char *section, const char *service, const char *key,
						  bool *section_exists)
{
	size_t		len = 0;
	char	   *text = read_text(awl_config_file_path(false), &len);
	char	   *v;

	*section_exists = false;
	if (text == NULL)
		return NULL;
	v = awl_ini_services_lookup(text, len, section, service, key, section_exists);
	explicit_bzero(text, len);
	pfree(text);
	return take_value(v);
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
	if (profile_setting && profile_setting[0])
		return profile_setting;
	if (env && env[0])
		return env;
	*explicit_choice = false;
	return "default";
}
