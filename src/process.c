/*-------------------------------------------------------------------------
 *
 * process.c
 *	  Runs a helper command (credential_process) under our own wait loop.
 *
 * popen() and blocking reads cannot be interrupted, so a hung helper would
 * wedge the backend, or the dispatcher and all delivery with it.  Here the
 * command runs with /bin/sh -c, as in the AWS SDKs, in a session (and so a
 * process group) of its own.  Its stdout comes through a non-blocking pipe
 * watched with WaitLatchOrSocket: a query cancel, statement_timeout,
 * pg_terminate_backend() or postmaster death ends the wait, and so does the
 * time limit.  Whenever the wait ends before the helper has finished on its
 * own, its whole process group gets SIGTERM, SIGKILL after a short grace,
 * and the helper is reaped: no zombie, no orphan, no leaked descriptor, also
 * when an ERROR unwinds (PG_CATCH) or the backend exits (on_proc_exit).
 *
 * Between fork() and exec() the child makes only async-signal-safe calls:
 * the backend may have threads (libcurl's resolver), and its memory and
 * signal handlers are PostgreSQL's, not the child's to use.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <unistd.h>
#include <sys/wait.h>
#ifdef __linux__
#include <sys/prctl.h>
#include <sys/syscall.h>
#endif

#include "miscadmin.h"
#include "storage/fd.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "utils/timestamp.h"

#include "awslambda.h"
#include "http.h"

extern char **environ;

/* How long a helper sent SIGTERM may take to exit before SIGKILL. */
#define HELPER_GRACE_MS		200
#define HELPER_GRACE_STEP_MS 5
/* How often we look whether a helper that closed its stdout has exited. */
#define HELPER_POLL_MS		10

/* The helper running now, if any: what the error and exit clean-ups stop. */
static pid_t helper_pid = 0;
static int	helper_fd = -1;
static bool exit_hook_set = false;
/* The wait took a wake-up of the latch, perhaps meant for our caller. */
static bool latch_seen = false;

static void
close_helper_pipe(void)
{
	if (helper_fd >= 0)
	{
		close(helper_fd);
		ReleaseExternalFD();
		helper_fd = -1;
	}
}

/*
 * Signals the helper's process group; before the child has called setsid()
 * there is no such group yet, so then the child itself (which still blocks
 * all signals and so takes it once its handlers are the defaults).
 */
static void
signal_helper(pid_t pid, int sig)
{
	if (kill(-pid, sig) != 0 && errno == ESRCH)
		(void) kill(pid, sig);
}

/*
 * Kills the running helper's process group and reaps the helper.  Makes no
 * ereport() call: it runs in PG_CATCH and at backend exit.  The group is
 * signalled before the helper is reaped, while its id cannot be reused.
 */
static void
stop_helper(void)
{
	pid_t		pid = helper_pid;
	int			status;
	int			waited;

	close_helper_pipe();
	if (pid <= 0)
		return;
	signal_helper(pid, SIGTERM);
	for (waited = 0; waited < HELPER_GRACE_MS; waited += HELPER_GRACE_STEP_MS)
	{
		siginfo_t	info;

		memset(&info, 0, sizeof(info));
		if (waitid(P_PID, (id_t) pid, &info, WEXITED | WNOHANG | WNOWAIT) != 0)
		{
			if (errno == EINTR)
				continue;
			break;
		}
		if (info.si_pid == pid)
			break;				/* exited (a zombie still): the group id is safe */
		pg_usleep(HELPER_GRACE_STEP_MS * 1000L);
	}
	signal_helper(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	helper_pid = 0;
}

static void
helper_at_exit(int code, Datum arg)
{
	stop_helper();
}

/* In the child: closes every descriptor but stdin, stdout and stderr. */
static void
close_inherited_fds(int max_fd)
{
	int			fd;

#if defined(__linux__) && defined(SYS_close_range)
	if (syscall(SYS_close_range, 3U, ~0U, 0U) == 0)
		return;
#endif
	for (fd = STDERR_FILENO + 1; fd < max_fd; fd++)
		(void) close(fd);
}

/*
 * The child between fork() and exec(): async-signal-safe calls only, and
 * never a return.  Its own session and process group; on Linux, SIGKILL
 * should the backend die without cleaning up (SIGKILL, SIGQUIT); default
 * signal dispositions (the backend ignores SIGPIPE and others, and exec keeps
 * ignored ones) and no blocked signals; stdin /dev/null, stdout the pipe,
 * stderr the backend's (the server log); no other descriptor of the backend.
 */
static void
run_child(char *const *argv, int out_fd, int max_fd, const struct sigaction *dfl,
		  const sigset_t *no_signals, pid_t parent)
{
	int			fd;
	int			sig;

	(void) setsid();
#ifdef PR_SET_PDEATHSIG
	(void) prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(127);
#endif
	for (sig = 1; sig < NSIG; sig++)
		(void) sigaction(sig, dfl, NULL);	/* harmless EINVAL for SIGKILL, ... */
	(void) sigprocmask(SIG_SETMASK, no_signals, NULL);

	if (out_fd != STDOUT_FILENO && dup2(out_fd, STDOUT_FILENO) < 0)
		_exit(127);
	fd = open("/dev/null", O_RDONLY);
	if (fd > STDERR_FILENO)
		(void) dup2(fd, STDIN_FILENO);
	close_inherited_fds(max_fd);

	(void) execve("/bin/sh", argv, environ);
	_exit(127);
}

/*
 * Reads the helper's stdout until it closes it and waits for it to exit,
 * within timeout_ms; true when it did, with its wait status.  Raises pending
 * interrupts (the caller's PG_CATCH kills the helper).
 */
static bool
wait_helper(const char *what, int timeout_ms, size_t max_output, char *buf,
			size_t *len, int *status, char **why)
{
	TimestampTz deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), timeout_ms);

	for (;;)
	{
		long		remaining;
		int			rc;

		if (helper_fd >= 0)
		{
			ssize_t		r;

			/* One byte more than allowed tells that it printed too much. */
			while ((r = read(helper_fd, buf + *len, max_output + 1 - *len)) > 0)
			{
				*len += r;
				if (*len > max_output)
				{
					*why = psprintf("%s printed more than %zu bytes and was killed",
									what, max_output);
					return false;
				}
			}
			if (r == 0)
				close_helper_pipe();
			else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			{
				*why = psprintf("could not read the output of %s: %m", what);
				return false;
			}
		}
		if (helper_fd < 0)
		{
			pid_t		r = waitpid(helper_pid, status, WNOHANG);

			if (r == helper_pid)
			{
				helper_pid = 0;
				buf[*len] = '\0';
				return true;
			}
			if (r < 0 && errno != EINTR)
			{
				*why = psprintf("could not wait for %s: %m", what);
				helper_pid = 0; /* not our child any more: signal no one */
				return false;
			}
		}

		remaining = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), deadline);
		if (remaining <= 0)
		{
			*why = psprintf("%s did not finish within %d ms and was killed",
							what, timeout_ms);
			return false;
		}
		if (helper_fd >= 0)
			rc = WaitLatchOrSocket(MyLatch,
								   WL_SOCKET_READABLE | WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
								   helper_fd, remaining, awl_wait_event(AWL_WAIT_CREDENTIALS));
		else
			rc = WaitLatchOrSocket(MyLatch,
								   WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
								   PGINVALID_SOCKET, Min(remaining, HELPER_POLL_MS),
								   awl_wait_event(AWL_WAIT_CREDENTIALS));
		if (rc & WL_LATCH_SET)
		{
			ResetLatch(MyLatch);
			latch_seen = true;
		}
		CHECK_FOR_INTERRUPTS();
	}
}

/*
 * Starts command under /bin/sh -c with its stdout on a pipe (helper_pid,
 * helper_fd); false with *why (naming what) when it could not.
 */
static bool
start_helper(const char *what, const char *command, char **why)
{
	char	   *argv[4];
	struct sigaction dfl;
	sigset_t	all_signals;
	sigset_t	no_signals;
	sigset_t	old_mask;
	long		max_fd = sysconf(_SC_OPEN_MAX);
	int			fds[2];
	int			save_errno;
	pid_t		pid;

	/* Everything the child needs, made before fork(). */
	argv[0] = "sh";
	argv[1] = "-c";
	argv[2] = unconstify(char *, command);
	argv[3] = NULL;
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	sigemptyset(&dfl.sa_mask);
	sigfillset(&all_signals);
	sigemptyset(&no_signals);
	if (max_fd <= 0 || max_fd > INT_MAX)
		max_fd = 65536;

	if (!AcquireExternalFD())
	{
		*why = psprintf("could not run %s: %m", what);
		return false;
	}
	if (pipe(fds) != 0)
	{
		save_errno = errno;
		ReleaseExternalFD();
		errno = save_errno;
		*why = psprintf("could not run %s: could not create a pipe: %m", what);
		return false;
	}

	/* No PostgreSQL signal handler may run in the child before exec(). */
	sigprocmask(SIG_SETMASK, &all_signals, &old_mask);
	pid = fork();
	if (pid == 0)
		run_child(argv, fds[1], (int) max_fd, &dfl, &no_signals, MyProcPid);
	save_errno = errno;
	sigprocmask(SIG_SETMASK, &old_mask, NULL);
	close(fds[1]);
	if (pid < 0)
	{
		close(fds[0]);
		ReleaseExternalFD();
		errno = save_errno;
		*why = psprintf("could not run %s: could not fork: %m", what);
		return false;
	}
	helper_pid = pid;
	helper_fd = fds[0];
	if (fcntl(helper_fd, F_SETFD, FD_CLOEXEC) != 0 ||
		fcntl(helper_fd, F_SETFL, O_NONBLOCK) != 0)
	{
		*why = psprintf("could not run %s: could not set up its pipe: %m", what);
		stop_helper();
		return false;
	}
	return true;
}

bool
awl_run_helper(const char *what, const char *command, int timeout_ms, size_t max_output,
			   char **output, size_t *len, int *status, char **why)
{
	char	   *volatile buf;
	bool		ok;

	Assert(timeout_ms > 0);
	if (helper_pid != 0 || helper_fd >= 0)
		stop_helper();			/* not expected: nothing runs two at once */
	if (!exit_hook_set)
	{
		on_proc_exit(helper_at_exit, (Datum) 0);
		exit_hook_set = true;
	}
	buf = palloc(max_output + 2);
	*len = 0;
	latch_seen = false;
	if (!start_helper(what, command, why))
		return false;

	PG_TRY();
	{
		ok = wait_helper(what, timeout_ms, max_output, buf, len, status, why);
	}
	PG_CATCH();
	{
		stop_helper();
		explicit_bzero(buf, max_output + 2);
		PG_RE_THROW();
	}
	PG_END_TRY();

	if (!ok)
	{
		stop_helper();
		explicit_bzero(buf, max_output + 2);
		pfree(buf);
		buf = NULL;
	}
	/* Hand back a wake-up we took: it may be the dispatcher's. */
	if (latch_seen)
		SetLatch(MyLatch);
	*output = buf;
	return ok;
}
