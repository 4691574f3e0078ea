/*-------------------------------------------------------------------------
 *
 * awsconfig.c
 *	  The AWS shared config and credentials files, read as the SDKs read them.
 *
 * ~/.aws/credentials has sections "[name]", ~/.aws/config "[profile name]"
 * (and "[default]"); AWS_SHARED_CREDENTIALS_FILE and AWS_CONFIG_FILE move
 * them.  A key is looked up in the credentials file first.  Lines are
 * "key = value"; "#" and ";" start comments; indented lines continue a
 * nested setting (such as s3 = ...) and are skipped.  The files are re-read
 * on every lookup: lookups happen only when credentials are (re)fetched.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <pwd.h>
#include <unistd.h>

#include "storage/fd.h"

#include "awslambda.h"

#define MAX_LINE 8192

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

/* Trims blanks on both ends, in place. */
static char *
trim(char *s)
{
	char	   *end;

	while (*s == ' ' || *s == '\t')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r' || end[-1] == '\n'))
		*--end = '\0';
	return s;
}

/* Does "[ ... ]" name this profile in this kind of file? */
static bool
section_matches(char *header, const char *profile, bool credentials_file)
{
	char	   *name = trim(header);

	if (credentials_file || strcmp(profile, "default") == 0)
	{
		if (strcmp(name, profile) == 0)
			return true;
		if (credentials_file)
			return false;
	}
	if (strncmp(name, "profile", 7) == 0 && (name[7] == ' ' || name[7] == '\t'))
		return strcmp(trim(name + 8), profile) == 0;
	return false;
}

/*
 * Value of key in the profile's section of one file, palloc'd, or NULL.
 * *found_section tells whether the section exists at all.
 */
static char *
file_value(const char *path, bool credentials_file, const char *profile,
		   const char *key, bool *found_section)
{
	FILE	   *f;
	char		line[MAX_LINE];
	bool		in_section = false;
	char	   *result = NULL;

	if (path == NULL || (f = AllocateFile(path, "r")) == NULL)
		return NULL;
	while (result == NULL && fgets(line, sizeof(line), f) != NULL)
	{
		char	   *p = line;
		char	   *eq;

		if (line[0] == ' ' || line[0] == '\t')
			continue;			/* nested setting or continuation */
		p = trim(p);
		if (*p == '\0' || *p == '#' || *p == ';')
			continue;
		if (*p == '[')
		{
			char	   *close = strchr(p, ']');

			if (close)
				*close = '\0';
			in_section = section_matches(p + 1, profile, credentials_file);
			if (in_section)
				*found_section = true;
			continue;
		}
		if (!in_section || (eq = strchr(p, '=')) == NULL)
			continue;
		*eq = '\0';
		if (pg_strcasecmp(trim(p), key) == 0)
		{
			char	   *v = trim(eq + 1);
			char	   *comment;

			/* " #" or " ;" after a value starts a comment */
			for (comment = v; *comment; comment++)
				if ((*comment == '#' || *comment == ';') && comment > v &&
					(comment[-1] == ' ' || comment[-1] == '\t'))
				{
					*comment = '\0';
					break;
				}
			result = pstrdup(trim(v));
		}
	}
	explicit_bzero(line, sizeof(line));
	FreeFile(f);
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
