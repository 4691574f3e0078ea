/*-------------------------------------------------------------------------
 *
 * awsconfig.h
 *	  The AWS configuration as the SDKs read it: environment variables, the
 *	  shared config and credentials files, and the profile in use.
 *
 * Used by credentials.c, providers.c, imds.c, region.c and endpoint.c,
 * which call awsconfig.c; awsconfig.c calls only ini.c (the plain-C reader
 * of the files), nothing of its callers.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AWL_AWSCONFIG_H
#define AWL_AWSCONFIG_H

#include "postgres.h"

#include "utils/guc.h"

/*
 * Defines awslambda.profile; profile_changed (the credentials area's) runs
 * whenever its value is assigned, so caches kept per profile can be dropped.
 */
extern void awl_config_define_settings(GucStringAssignHook profile_changed);

/* The environment variable's value, or NULL when it is unset or empty. */
extern const char *awl_env_nonempty(const char *name);

/* Whether the environment variable is "true" (any case). */
extern bool awl_env_is_true(const char *name);

/*
 * Path of the credentials file (or, with false, the config file):
 * AWS_SHARED_CREDENTIALS_FILE / AWS_CONFIG_FILE (a leading "~/" expanded),
 * else ~/.aws/credentials or ~/.aws/config of the server's OS user; palloc'd,
 * or NULL when no home directory is known.  Never raises but for out of
 * memory.
 */
extern char *awl_config_file_path(bool credentials_file);

/*
 * The value of key in profile's section, looked up in the credentials file,
 * then the config file (both read afresh); palloc'd, or NULL.  When
 * profile_exists is not NULL, *profile_exists is set (never cleared) if
 * either file has the profile's section.  The files may hold secrets: their
 * text is wiped after reading.
 */
extern char *awl_config_value(const char *profile, const char *key, bool *profile_exists);

/*
 * The profile in use: awslambda.profile, AWS_PROFILE, else "default"; the
 * string is the setting's or the environment's (not to be freed).
 * *explicit_choice says whether one was named.
 */
extern const char *awl_profile_name(bool *explicit_choice);

/*
 * The value of key in the service's block of the config file's
 * "[services SECTION]" section, palloc'd, or NULL; *section_exists says
 * whether that section is there at all.
 */
extern char *awl_config_services_value(const char *section, const char *service,
									   const char *key, bool *section_exists);

#endif							/* AWL_AWSCONFIG_H */
