/*-------------------------------------------------------------------------
 *
 * confine.h
 *	  The dispatcher's session, and user code run from it (confine.c): the
 *	  dispatcher runs as the bootstrap superuser, so nothing a non-superuser
 *	  controls may steer its session, and a callback runs with the rights
 *	  and settings of the role that queued the invocation and leaves
 *	  nothing behind.  Calls nothing of the asynchronous side.
 *
 * Used by dispatcher.c (the session) and callback.c (each callback).
 *
 *-------------------------------------------------------------------------
 */
#ifndef AWL_CONFINE_H
#define AWL_CONFINE_H

#include "awslambda.h"

/* What awl_confine_enter changed, for awl_confine_leave to undo. */
typedef struct AwlConfinement
{
	Oid			save_user;
	int			save_sec;
	int			nest_level;
} AwlConfinement;

/*
 * In a dispatcher, before it connects to its database (its settings still
 * the postmaster's): remembers the server's values of the settings it fixes
 * for itself, of awslambda's own and of every other one a session may
 * change, in TopMemoryContext.  Raises only out of memory.
 */
extern void awl_confine_capture(void);

/*
 * Right after connecting, before any statement: fixes the dispatcher's
 * session (search_path pg_catalog, pg_temp; no timeouts; read committed,
 * read-write; exit_on_error off; enable_seqscan off) with a priority that
 * neither ALTER DATABASE/ROLE ... SET nor a reload overrides, and puts
 * back the server's value of every awslambda.* / aws_lambda.* setting and
 * of synchronous_commit that a database or role setting changed (with a
 * LOG line); remembers what callbacks start from.  Raises only out of
 * memory.
 */
extern void awl_confine_session(void);

/*
 * Starts running user code as role, in a transaction: switches to it under
 * SECURITY_RESTRICTED_OPERATION and opens a GUC nest level with the
 * settings a session of that role in this database would have (and
 * exit_on_error and transaction_timeout off).  *c is the caller's;
 * awl_confine_leave(c), or the transaction's abort, undoes all of it.
 */
extern void awl_confine_enter(Oid role, AwlConfinement *c);

/*
 * Ends what awl_confine_enter began: settings back, session-level advisory
 * locks released, the dispatcher's own user and security context back.
 */
extern void awl_confine_leave(AwlConfinement *c);

#endif							/* AWL_CONFINE_H */
