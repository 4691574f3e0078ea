# The dispatcher runs as superuser: no role may borrow those rights.  Each
# attempt is made as "app", a non-superuser that owns its database (and so,
# on PostgreSQL 15, may create objects in its public schema); afterwards app
# is still no superuser and nothing ran with elevated rights.  A plant
# records every run of itself in public.pwned, with the user it ran as.
use strict;
use warnings;
use File::Spec;
use FindBin;
use lib $FindBin::Bin;
use AwlTap;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = awl_node('privileges', 'awslambda.async_retention' => '2s');
awl_reset_mock($node);

$node->safe_psql('postgres', q{
	CREATE ROLE app LOGIN;
	CREATE DATABASE appdb OWNER app;
});
$node->safe_psql('appdb', 'CREATE EXTENSION awslambda');

sub as_app
{
	my ($db, $sql) = @_;
	return $node->safe_psql($db, $sql, extra_params => [ '-U', 'app' ]);
}

sub not_superuser
{
	my ($what) = @_;
	is($node->safe_psql('postgres', "SELECT rolsuper FROM pg_roles WHERE rolname = 'app'"),
		'f', "$what: app is still no superuser");
}

# What plants need in a database: a log of their runs and the escalation.
my $plant_kit = q{
	CREATE TABLE public.pwned (what text, ran_as text);
	GRANT ALL ON public.pwned TO PUBLIC;
	CREATE FUNCTION public.escalate(what text) RETURNS void LANGUAGE plpgsql AS $$
	BEGIN
		INSERT INTO public.pwned VALUES (what, current_user);
		IF (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) THEN
			EXECUTE 'ALTER ROLE app SUPERUSER';
		END IF;
	END $$;
};

sub nothing_ran
{
	my ($db, $what) = @_;
	is($node->safe_psql($db, 'SELECT count(*) FROM public.pwned'), '0', "$what: no plant ran");
	not_superuser($what);
}

# ---------------------------------------------------------------------------
# 1. Functions and operators planted for the dispatcher's own statements,
#    and a database search_path that puts them first.
# ---------------------------------------------------------------------------
as_app('appdb', $plant_kit . q{
	-- Better matches than pg_catalog's, found with the default search_path.
	CREATE FUNCTION public.make_interval(secs int) RETURNS interval LANGUAGE plpgsql AS $$
	BEGIN PERFORM public.escalate('make_interval'); RETURN pg_catalog.make_interval(secs => secs::float8); END $$;
	CREATE FUNCTION public.unnest(a uuid[]) RETURNS SETOF uuid LANGUAGE plpgsql AS $$
	BEGIN PERFORM public.escalate('unnest'); RETURN QUERY SELECT pg_catalog.unnest(a); END $$;
	CREATE FUNCTION public.div_evil(a bigint, b numeric) RETURNS numeric LANGUAGE plpgsql AS $$
	BEGIN PERFORM public.escalate('bigint / numeric'); RETURN a::numeric / b; END $$;
	CREATE OPERATOR public./ (LEFTARG = bigint, RIGHTARG = numeric, FUNCTION = public.div_evil);
	CREATE FUNCTION public.mul_evil(a numeric, b integer) RETURNS numeric LANGUAGE plpgsql AS $$
	BEGIN PERFORM public.escalate('numeric * integer'); RETURN a * b::numeric; END $$;
	CREATE OPERATOR public.* (LEFTARG = numeric, RIGHTARG = integer, FUNCTION = public.mul_evil);
	-- Same signatures as pg_catalog's: they win only if public comes first.
	CREATE FUNCTION public.clock_timestamp() RETURNS timestamptz LANGUAGE plpgsql AS $$
	BEGIN PERFORM public.escalate('clock_timestamp'); RETURN pg_catalog.clock_timestamp(); END $$;
	CREATE FUNCTION public.now() RETURNS timestamptz LANGUAGE plpgsql AS $$
	BEGIN PERFORM public.escalate('now'); RETURN pg_catalog.now(); END $$;
	CREATE FUNCTION public.uuid_eq_evil(a uuid, b uuid) RETURNS boolean LANGUAGE plpgsql AS $$
	BEGIN PERFORM public.escalate('uuid = uuid'); RETURN a OPERATOR(pg_catalog.=) b; END $$;
	CREATE OPERATOR public.= (LEFTARG = uuid, RIGHTARG = uuid, FUNCTION = public.uuid_eq_evil);
	CREATE FUNCTION public.text_eq_evil(a text, b text) RETURNS boolean LANGUAGE plpgsql AS $$
	BEGIN PERFORM public.escalate('text = text'); RETURN a OPERATOR(pg_catalog.=) b; END $$;
	CREATE OPERATOR public.= (LEFTARG = text, RIGHTARG = text, FUNCTION = public.text_eq_evil);
	ALTER DATABASE appdb SET search_path = public, pg_catalog;
	-- A per-database awslambda setting would make every send time out.
	ALTER DATABASE appdb SET awslambda.request_timeout_ms = 1;
	-- The dispatcher's commits would not wait for the disk.
	ALTER DATABASE appdb SET synchronous_commit = off;
});
# From PostgreSQL 17: a transaction_timeout would end the dispatcher (FATAL)
# in every transaction that outlasts it, such as one waiting for a send.
my $pg17 = $node->safe_psql('postgres', 'SHOW server_version_num') >= 170000;
as_app('appdb', q{ALTER DATABASE appdb SET transaction_timeout = '20ms'}) if $pg17;
# The dispatcher connects anew, with the database's settings.
my $appdb_log_start = -s $node->logfile;
$node->restart;

# Invocations that take the dispatcher through every statement it has: claim,
# send, record, retry (a 503 first), a callback, cleanup after the retention.
$node->safe_psql('appdb', q{
	SET search_path = pg_catalog, public;
	CREATE FUNCTION public.sup_cb(inv public.awslambda_invocations) RETURNS void
	  LANGUAGE sql SET search_path = pg_catalog AS 'SELECT 1';
	SELECT public.awslambda_fn_async('lambdaTest', '{"plant": "event"}');
	SELECT public.awslambda_invoke_async('lambdaSleep', '{"seconds": 0.2}', 'RequestResponse',
	       callback => 'public.sup_cb');
	SELECT public.awslambda_invoke_async('mockStatus',
	       '{"n": "plants", "times": 1, "status": 503, "code": "ServiceUnavailableException"}',
	       'RequestResponse');
});
ok($node->poll_query_until('appdb',
		'SELECT count(*) = 3 FROM public.awslambda_invocations WHERE finished_at IS NOT NULL AND (callback IS NULL OR callback_done_at IS NOT NULL)'),
	'the planted database\'s invocations finished');
is($node->safe_psql('appdb',
		"SELECT string_agg(function_name || ' ' || status || ' ' || attempts, ', ' ORDER BY function_name) FROM public.awslambda_invocations"),
	'lambdaSleep succeeded 1, lambdaTest sent 1, mockStatus succeeded 2',
	'sent with the server\'s timeout, not the database\'s 1 ms; the 503 retried');
ok($node->poll_query_until('appdb', 'SELECT count(*) = 0 FROM public.awslambda_invocations'),
	'retention cleanup ran');
nothing_ran('appdb', 'planted functions and operators, database search_path');
like(slurp_file($node->logfile, $appdb_log_start),
	qr/ignoring the per-database or per-role value of "awslambda.request_timeout_ms"/,
	'the dispatcher says it ignored the database\'s setting');
like(slurp_file($node->logfile, $appdb_log_start),
	qr/ignoring the per-database or per-role value of "synchronous_commit"/,
	'and the database\'s synchronous_commit');
unlike(slurp_file($node->logfile, $appdb_log_start), qr/transaction timeout/,
	'no dispatcher ended by the database\'s transaction_timeout');
as_app('appdb', q{
	ALTER DATABASE appdb RESET search_path;
	ALTER DATABASE appdb RESET awslambda.request_timeout_ms;
	ALTER DATABASE appdb RESET synchronous_commit;
});
as_app('appdb', q{ALTER DATABASE appdb RESET transaction_timeout}) if $pg17;

# ---------------------------------------------------------------------------
# 2. Callbacks run as the role that queued them, confined.
# ---------------------------------------------------------------------------
$node->safe_psql('appdb', q{
	GRANT EXECUTE ON FUNCTION awslambda_invoke_async(text, jsonb, text, text, text, text, text, text, boolean, timestamptz, integer, text, text),
	                          awslambda_fn(text, text) TO app;
	ALTER ROLE app SET awslambda.allowed_functions = 'lambdaTest, lambdaSleep';
});
as_app('appdb', q{
	CREATE SCHEMA evil;
	CREATE FUNCTION evil.clock_timestamp() RETURNS timestamptz LANGUAGE plpgsql AS $$
	BEGIN PERFORM public.escalate('evil.clock_timestamp'); RETURN pg_catalog.clock_timestamp(); END $$;
	CREATE FUNCTION evil.now() RETURNS timestamptz LANGUAGE plpgsql AS $$
	BEGIN PERFORM public.escalate('evil.now'); RETURN pg_catalog.now(); END $$;
	CREATE TABLE cb_log (id uuid, what text, ran_as text, search_path text, timeout text,
	                     allowed text, concurrency text);

	-- Leaves settings behind, if it can.
	CREATE FUNCTION cb_set(inv awslambda_invocations) RETURNS void LANGUAGE plpgsql AS $$
	BEGIN
		PERFORM set_config('search_path', 'evil, pg_catalog', false);
		PERFORM set_config('awslambda.request_timeout_ms', '1', false);
		SET awslambda.max_concurrency = 1;
		INSERT INTO public.cb_log (id, what, ran_as) VALUES (inv.id, 'set', current_user);
	END $$;
	-- Reports the settings it runs with.
	CREATE FUNCTION cb_report(inv awslambda_invocations) RETURNS void LANGUAGE plpgsql AS $$
	BEGIN
		INSERT INTO public.cb_log VALUES (inv.id, 'report', current_user,
			current_setting('search_path'), current_setting('awslambda.request_timeout_ms'),
			current_setting('awslambda.allowed_functions'), current_setting('awslambda.max_concurrency'));
	END $$;
	-- A WITH HOLD cursor would be filled at commit, after the switch back.
	CREATE FUNCTION cb_hold(inv awslambda_invocations) RETURNS void LANGUAGE sql AS $$
		DECLARE c CURSOR WITH HOLD FOR SELECT public.escalate('hold cursor');
	$$;
	-- Calls a function its role may not call.
	CREATE FUNCTION cb_other(inv awslambda_invocations) RETURNS void LANGUAGE plpgsql AS $$
	BEGIN PERFORM awslambda_fn('lambdaEcho', '{"from": "callback"}'); END $$;
	-- A name made to break out of SQL text.
	CREATE SCHEMA "s; ALTER ROLE app SUPERUSER; --";
	CREATE FUNCTION "s; ALTER ROLE app SUPERUSER; --"."cb($1); SELECT public.escalate('injected')"(inv awslambda_invocations)
	  RETURNS void LANGUAGE sql AS $$ INSERT INTO public.cb_log (id, what, ran_as) VALUES (inv.id, 'crafted name', current_user) $$;
	CREATE PROCEDURE cb_proc(inv awslambda_invocations) LANGUAGE plpgsql AS $$
	BEGIN INSERT INTO public.cb_log (id, what, ran_as) VALUES (inv.id, 'procedure', current_user); END $$;
});

sub queue_as_app
{
	my ($callback, $fn) = @_;
	$fn //= 'lambdaTest';
	my $id = as_app('appdb',
		"SELECT awslambda_invoke_async('$fn', '{\"cb\": 1}', callback => \$cb\$$callback\$cb\$)");
	ok($node->poll_query_until('appdb',
			"SELECT callback_done_at IS NOT NULL FROM awslambda_invocations WHERE id = '$id'"),
		"callback $callback ran");
	return $id;
}

sub callback_error
{
	my ($id) = @_;
	return $node->safe_psql('appdb', "SELECT coalesce(callback_error, '') FROM awslambda_invocations WHERE id = '$id'");
}

my $fresh = as_app('appdb', q{
	SELECT concat_ws('|', current_setting('search_path'), current_setting('awslambda.request_timeout_ms'),
	                 current_setting('awslambda.allowed_functions'), current_setting('awslambda.max_concurrency'))});

my $set_id = queue_as_app('cb_set');
is(callback_error($set_id), '', 'a callback that changes settings runs');
my $report_id = queue_as_app('cb_report');
is($node->safe_psql('appdb',
		"SELECT concat_ws('|', search_path, timeout, allowed, concurrency) FROM cb_log WHERE id = '$report_id'"),
	$fresh, 'the next callback runs with the settings of a new session of its role, none left behind');
is($node->safe_psql('appdb', "SELECT string_agg(DISTINCT ran_as, ',') FROM cb_log"), 'app',
	'callbacks run as the role that queued them');
# What the dispatcher does after cb_set (mark it done, claim, record) did not
# resolve evil's functions, and sends do not time out after 1 ms.
my $sleep_id = as_app('appdb', q{SELECT awslambda_invoke_async('lambdaSleep', '{"seconds": 0.1}', 'RequestResponse')});
ok(awl_wait_finished($node, 'appdb'), 'an invocation after cb_set finished');
is($node->safe_psql('appdb', "SELECT status FROM awslambda_invocations WHERE id = '$sleep_id'"),
	'succeeded', 'the dispatcher kept its own request timeout');
nothing_ran('appdb', 'a callback that sets search_path');

my $hold_id = queue_as_app('cb_hold');
like(callback_error($hold_id), qr/cannot create a cursor WITH HOLD within security-restricted operation/,
	'a WITH HOLD cursor is refused inside a callback');
nothing_ran('appdb', 'a callback that declares a WITH HOLD cursor');

my $other_id = queue_as_app('cb_other');
like(callback_error($other_id), qr/permission denied to invoke Lambda function "lambdaEcho"/,
	'the role\'s awslambda.allowed_functions applies inside its callback');
is(awl_accepted($node, 'lambdaEcho')->{count} // 0, 0, 'nothing reached lambdaEcho');

my $crafted_id = queue_as_app(q{"s; ALTER ROLE app SUPERUSER; --"."cb($1); SELECT public.escalate('injected')"});
is(callback_error($crafted_id), '', 'a callback with a crafted name runs');
is($node->safe_psql('appdb', "SELECT count(*) FROM cb_log WHERE id = '$crafted_id' AND what = 'crafted name'"),
	'1', 'the crafted name ran as itself, once');
nothing_ran('appdb', 'a callback name crafted to inject SQL');

my $proc_id = queue_as_app('cb_proc');
is($node->safe_psql('appdb', "SELECT count(*) FROM cb_log WHERE id = '$proc_id' AND what = 'procedure'"),
	'1', 'a procedure callback runs');

# From PostgreSQL 17: the role's transaction_timeout would end the dispatcher
# (FATAL) in a callback that outlasts it; awslambda.async_callback_timeout is
# a callback's time limit.
if ($pg17)
{
	as_app('appdb', q{
		CREATE FUNCTION cb_slow(inv awslambda_invocations) RETURNS void LANGUAGE plpgsql AS $$
		BEGIN PERFORM pg_sleep(0.5); INSERT INTO public.cb_log (id, what, ran_as) VALUES (inv.id, 'slow', current_user); END $$;
	});
	$node->safe_psql('appdb', q{ALTER ROLE app SET transaction_timeout = '200ms'});
	my $slow_id = queue_as_app('cb_slow');
	is(callback_error($slow_id), '', 'a callback longer than its role\'s transaction_timeout runs to its end');
	is($node->safe_psql('appdb', "SELECT count(*) FROM cb_log WHERE id = '$slow_id' AND what = 'slow'"),
		'1', 'once');
	$node->safe_psql('appdb', q{ALTER ROLE app RESET transaction_timeout});
}

# A callback whose function was revoked from its role in the meantime.
as_app('appdb', q{CREATE FUNCTION cb_revoked(inv awslambda_invocations) RETURNS void LANGUAGE sql AS 'SELECT 1'});
$node->safe_psql('postgres', 'CREATE ROLE app2 LOGIN');
$node->safe_psql('appdb', q{
	GRANT EXECUTE ON FUNCTION awslambda_invoke_async(text, jsonb, text, text, text, text, text, text, boolean, timestamptz, integer, text, text) TO app2;
	GRANT USAGE ON SCHEMA public TO app2;
});
as_app('appdb', q{
	CREATE FUNCTION public.cb_app2(inv awslambda_invocations) RETURNS void LANGUAGE sql AS 'SELECT 1';
	REVOKE EXECUTE ON FUNCTION public.cb_app2(awslambda_invocations) FROM PUBLIC;
	GRANT EXECUTE ON FUNCTION public.cb_app2(awslambda_invocations) TO app2;
});

# A role dropped while its invocation was in flight: its callback is not run.
my $dropped_id = $node->safe_psql('appdb', q{
	SET ROLE app2;
	SELECT awslambda_invoke_async('lambdaSleep', '{"seconds": 2}', 'RequestResponse', callback => 'public.cb_app2');
});
$node->safe_psql('appdb', 'REASSIGN OWNED BY app2 TO app; DROP OWNED BY app2');
$node->safe_psql('postgres', 'DROP ROLE app2');
ok($node->poll_query_until('appdb',
		"SELECT callback_done_at IS NOT NULL FROM awslambda_invocations WHERE id = '$dropped_id'"),
	'the dropped role\'s callback was dealt with');
like(callback_error($dropped_id), qr/the role that queued invocation .* no longer exists; its callback is not run/,
	'a callback of a dropped role is not run, and the row says why');
my ($rc, $out, $err) = $node->psql('appdb', 'SELECT count(*) FROM awslambda_invocations',
	extra_params => [ '-U', 'app' ]);
is("$rc $err", '0 ', 'rows of a dropped role do not break reading the queue');

# A callback that takes a session advisory lock and fails leaves no lock behind.
as_app('appdb', q{CREATE FUNCTION cb_lock(inv awslambda_invocations) RETURNS void LANGUAGE plpgsql AS $$
	BEGIN PERFORM pg_advisory_lock(4242); RAISE EXCEPTION 'fails holding a lock'; END $$});
my $lock_id = queue_as_app('cb_lock');
like(callback_error($lock_id), qr/fails holding a lock/, 'the locking callback failed');
is($node->safe_psql('appdb', 'SELECT pg_try_advisory_lock(4242)'), 't',
	'its session advisory lock was released');

# A name recorded with quote_all_identifiers on is still the same function.
my $quoted = as_app('appdb', q{SET quote_all_identifiers = on;
	SELECT awslambda_invoke_async('lambdaTest', '{}', callback => 'cb_report')});
ok($node->poll_query_until('appdb', "SELECT callback_done_at IS NOT NULL FROM awslambda_invocations WHERE id = '$quoted'"),
	'callback recorded under quote_all_identifiers ran');
is(callback_error($quoted), '', 'without an error');

# The bootstrap superuser's own per-role settings do not reach callbacks, and
# a reload gives callbacks the server's new values.
$node->safe_psql('postgres', q{ALTER ROLE postgres IN DATABASE appdb SET work_mem = '1234kB'});
as_app('appdb', q{CREATE FUNCTION cb_work_mem(inv awslambda_invocations) RETURNS void LANGUAGE plpgsql AS $$
	BEGIN INSERT INTO public.cb_log (id, what, ran_as, concurrency)
	      VALUES (inv.id, current_setting('work_mem'), current_user, current_setting('awslambda.max_concurrency')); END $$});
as_app('appdb', 'ALTER DATABASE appdb SET awslambda.max_concurrency = 3');
$node->safe_psql('postgres', q{SELECT pg_terminate_backend(pid) FROM pg_stat_activity
	WHERE backend_type = 'awslambda dispatcher' AND datname = 'appdb'});
sleep(2);
$node->safe_psql('postgres', q{ALTER SYSTEM SET awslambda.max_concurrency = 7; SELECT pg_reload_conf()});
as_app('appdb', 'ALTER DATABASE appdb RESET awslambda.max_concurrency');
sleep(2);
my $wm_id = queue_as_app('cb_work_mem');
is($node->safe_psql('appdb', "SELECT what || ' ' || concurrency FROM cb_log WHERE id = '$wm_id'"),
	as_app('appdb', q{SELECT current_setting('work_mem') || ' ' || current_setting('awslambda.max_concurrency')}),
	'a callback has the settings of a new session of its role: not postgres\'s work_mem, the reloaded server value');
$node->safe_psql('postgres', q{ALTER ROLE postgres IN DATABASE appdb RESET work_mem;
	ALTER SYSTEM RESET awslambda.max_concurrency; SELECT pg_reload_conf()});

# The database owner renames the extension's schema and plants same-named
# queue tables (the queue and its pending part) with a trigger: neither the backend's cached INSERT nor the
# dispatcher's saved statements may reach it.
my $renamed_log_start = -s $node->logfile;
my $rename_out = as_app('appdb', q{
	SELECT awslambda_invoke_async('lambdaTest', '{"rename": "before"}');
	ALTER SCHEMA public RENAME TO public_old;
	CREATE SCHEMA public;
} . $plant_kit . q{
	CREATE TABLE public.awslambda_invocations (LIKE public_old.awslambda_invocations INCLUDING DEFAULTS);
	INSERT INTO public.awslambda_invocations (id, function_name, region, invocation_type, payload, invoked_by)
	VALUES (gen_random_uuid(), 'lambdaTest', 'us-east-1', 'Event', '{"planted": 1}', 10);
	CREATE FUNCTION public.planted_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
	BEGIN PERFORM public.escalate('renamed schema ' || TG_OP); RETURN NEW; END $$;
	CREATE TRIGGER planted BEFORE INSERT OR UPDATE OR DELETE ON public.awslambda_invocations
	  FOR EACH ROW EXECUTE FUNCTION public.planted_trigger();
	CREATE TABLE public.awslambda_invocations_pending
	  (LIKE public_old.awslambda_invocations INCLUDING DEFAULTS, queued_xact xid8 DEFAULT pg_current_xact_id());
	INSERT INTO public.awslambda_invocations_pending (id, function_name, region, invocation_type, payload, invoked_by)
	VALUES (gen_random_uuid(), 'lambdaTest', 'us-east-1', 'Event', '{"planted": 2}', 10);
	CREATE TRIGGER planted BEFORE INSERT OR UPDATE OR DELETE ON public.awslambda_invocations_pending
	  FOR EACH ROW EXECUTE FUNCTION public.planted_trigger();
	SELECT public_old.awslambda_invoke_async('lambdaTest', '{"rename": "after"}');
});
ok($node->poll_query_until('appdb', q{SELECT count(*) = 2 FROM public_old.awslambda_invocations
	WHERE payload LIKE '%rename%' AND status = 'sent'}),
	'invocations queued around the rename went to the real queue and were sent');
is($node->safe_psql('appdb', 'SELECT status FROM ONLY public.awslambda_invocations'), 'queued',
	'the planted table was not touched');
is($node->safe_psql('appdb', 'SELECT status FROM public.awslambda_invocations_pending'), 'queued',
	'nor the planted pending table');
is($node->safe_psql('appdb', 'SELECT (SELECT count(*) FROM public.pwned) + (SELECT count(*) FROM public_old.pwned)'),
	'0', 'renamed schema: no plant ran');
not_superuser('renamed schema');
# Either the dispatcher saw the new name at the start of a transaction, or a
# replan in the middle of one met the planted table and was refused (then a
# restarted dispatcher found the real queue); what matters is checked above.
my ($followed) = slurp_file($node->logfile, $renamed_log_start) =~
  /(the queue table is now public_old.awslambda_invocations|which is not the queue table)/;
note('the dispatcher after the rename: ' . ($followed // 'restarted'));

# A schema made beforehand by a role for aws_lambda / aws_commons is refused.
as_app('appdb', 'CREATE SCHEMA aws_commons');
($rc, $out, $err) = $node->psql('appdb', 'CREATE EXTENSION aws_lambda CASCADE');
like($err, qr/schema "aws_commons" belongs to a role that is not a superuser/,
	'CREATE EXTENSION refuses a schema another role made');

# ---------------------------------------------------------------------------
# 3. A table named like the queue, planted in a 0.1.0 database's schema.
# ---------------------------------------------------------------------------
$node->safe_psql('postgres', 'CREATE DATABASE olddb OWNER app');
$node->safe_psql('olddb', q{CREATE EXTENSION awslambda VERSION '0.1.0'});
as_app('olddb', $plant_kit . q{
	CREATE TABLE public.awslambda_invocations (id uuid, status text, next_attempt_at timestamptz,
	                                           finished_at timestamptz);
	INSERT INTO public.awslambda_invocations VALUES (gen_random_uuid(), 'sending', now(), NULL);
	CREATE FUNCTION public.planted_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
	BEGIN PERFORM public.escalate('planted queue trigger'); RETURN NEW; END $$;
	CREATE TRIGGER planted BEFORE UPDATE OR DELETE ON public.awslambda_invocations
	  FOR EACH ROW EXECUTE FUNCTION public.planted_trigger();
});
my $old_log_start = -s $node->logfile;
$node->restart;    # every database is looked at once after a start
ok($node->poll_query_until('postgres',
		"SELECT pg_read_file('" . File::Spec->rel2abs($node->logfile) . "', $old_log_start, 1000000) LIKE '%ignoring table public.awslambda_invocations: it is not a member of extension \"awslambda\"%'"),
	'the planted table is ignored, with a LOG line');
is($node->safe_psql('olddb', "SELECT status FROM public.awslambda_invocations"), 'sending',
	'the planted table was not touched');
nothing_ran('olddb', 'a planted table in a 0.1.0 database');

$node->stop;
done_testing();
