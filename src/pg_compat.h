/*-------------------------------------------------------------------------
 *
 * pg_compat.h
 *	  Every spelling that differs between the supported PostgreSQL majors,
 *	  keyed on PG_VERSION_NUM, so the rest of the code reads as one version.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AWL_PG_COMPAT_H
#define AWL_PG_COMPAT_H

#include "utils/guc.h"

/*
 * Frees a string ParseLongOption() returned: malloc'd before 16, in the GUC
 * memory context from 16 on.
 */
#if PG_VERSION_NUM >= 160000
#define awl_guc_free(p) guc_free(p)
#else
#define awl_guc_free(p) free(p)
#endif

#endif							/* AWL_PG_COMPAT_H */
