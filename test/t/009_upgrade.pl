# A database still at 0.2.0 served by this library: invocations keep flowing,
# callbacks wait for ALTER EXTENSION awslambda UPDATE, which resolves the
# callbacks of rows queued before it, and moves unfinished invocations into
# the table of their own (0.4.0), where they are sent.  A database at 0.3.0:
# the functions of its definitions work, tenant ids wait for the update,
# which keeps the roles' EXECUTE grants on the functions it makes anew.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use AwlTap;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = awl_node('upgrade');
awl_reset_mock($node);
$node->safe_psql('postgres', 'CREATE DATABASE up');
$node->safe_psql('up', q{
	CREATE EXTENSION awslambda VERSION '0.2.0';
	CREATE TABLE cb_log (id uuid);
	CREATE FUNCTION public.cb(inv awslambda_invocations) RETURNS void LANGUAGE sql
	  AS 'INSERT INTO public.cb_log VALUES (inv.id)';
});

my $id = $node->safe_psql('up', q{SELECT awslambda_fn_async('lambdaTest', '{"schema": "0.2.0"}')});
ok(awl_wait_finished($node, 'up'), 'an invocation queued in a 0.2.0 database is sent');
is($node->safe_psql('up', "SELECT status FROM awslambda_invocations WHERE id = '$id'"), 'sent', 'recorded as sent');

my ($rc, $out, $err) = $node->psql('up',
	q{SELECT awslambda_invoke_async('lambdaTest', '{}', callback => 'public.cb')});
like($err, qr/callbacks need version 0.3.0 of extension "awslambda".*\n.*ALTER EXTENSION awslambda UPDATE/,
	'a callback asks for the update');

($rc, $out, $err) = $node->psql('up',
	q{SELECT awslambda_invoke('lambdaTenant', '{}', tenant_id => 'blue')});
like($err, qr/function awslambda_invoke\(unknown, unknown, tenant_id => unknown\) does not exist/,
	'a 0.2.0 database has no tenant_id argument yet');

# A finished row whose callback the 0.2.0 library had yet to run.
my $pending = $node->safe_psql('up', q{
	INSERT INTO awslambda_invocations (id, function_name, region, invocation_type, payload,
	                                   callback, invoked_by, status, finished_at)
	VALUES (gen_random_uuid(), 'lambdaTest', 'us-east-1', 'Event', '{}', 'public.cb',
	        'postgres'::regrole, 'sent', now())
	RETURNING id});
sleep(1);
is($node->safe_psql('up', 'SELECT count(*) FROM cb_log'), '0', 'its callback waits for the update');

# Unfinished rows at the time of the update: a retry due in a few seconds,
# and one queued in the updating transaction itself.
my $retry = $node->safe_psql('up', q{
	INSERT INTO awslambda_invocations (id, function_name, region, invocation_type, payload,
	                                   invoked_by, attempts, next_attempt_at)
	VALUES (gen_random_uuid(), 'lambdaTest', 'us-east-1', 'Event', '{"moved": "retry"}',
	        'postgres'::regrole, 1, now() + interval '3 seconds')
	RETURNING id});
my $fresh = $node->safe_psql('up', q{
	BEGIN;
	INSERT INTO awslambda_invocations (id, function_name, region, invocation_type, payload, invoked_by)
	VALUES (gen_random_uuid(), 'lambdaTest', 'us-east-1', 'Event', '{"moved": "fresh"}',
	        'postgres'::regrole)
	RETURNING id;
	ALTER EXTENSION awslambda UPDATE;
	COMMIT;});
is($node->safe_psql('up', q{SELECT extversion FROM pg_extension WHERE extname = 'awslambda'}), '0.5.0',
	'updated to 0.5.0');
is($node->safe_psql('up', "SELECT count(*) FROM ONLY awslambda_invocations_pending WHERE id = '$retry'"),
	'1', 'the update moved the waiting retry to the pending table');
is($node->safe_psql('up', q{SELECT count(*) FROM ONLY awslambda_invocations WHERE finished_at IS NULL}),
	'0', 'no unfinished row is left in awslambda_invocations itself');
is($node->safe_psql('up', "SELECT status FROM awslambda_invocations WHERE id = '$id'"), 'sent',
	'a finished row stayed, and reads as before');
ok($node->poll_query_until('up', "SELECT status = 'sent' FROM awslambda_invocation('$fresh')"),
	'the row queued in the updating transaction is sent');
ok($node->poll_query_until('up', "SELECT status = 'sent' FROM awslambda_invocation('$retry')"),
	'the moved retry is sent when due');
is($node->safe_psql('up', "SELECT count(*) FROM ONLY awslambda_invocations WHERE id IN ('$fresh', '$retry')"),
	'2', 'and both are finished rows of awslambda_invocations now');
my $moved = awl_accepted($node, 'lambdaTest', 1);
is(scalar(grep { /"moved"/ } @{ $moved->{payloads} // [] }), 2, 'each moved invocation reached Lambda once');
is($node->safe_psql('up', "SELECT callback_fn = 'public.cb(awslambda_invocations)'::regprocedure FROM awslambda_invocations WHERE id = '$pending'"),
	't', 'the update resolved the pending callback');
ok($node->poll_query_until('up', "SELECT count(*) = 1 FROM cb_log WHERE id = '$pending'"),
	'and the dispatcher ran it');
is($node->safe_psql('up', "SELECT coalesce(callback_error, '') FROM awslambda_invocations WHERE id = '$pending'"),
	'', 'without an error');

# A new invocation with a callback, after the update.
my $new = $node->safe_psql('up', q{SELECT awslambda_invoke_async('lambdaTest', '{}', callback => 'public.cb')});
ok($node->poll_query_until('up', "SELECT count(*) = 1 FROM cb_log WHERE id = '$new'"),
	'callbacks queued after the update run');

# A database at 0.3.0: the old definitions (no tenant_id, no durable_execution_arn) still work.
$node->safe_psql('postgres', 'CREATE DATABASE v03');
$node->safe_psql('v03', q{
	CREATE EXTENSION awslambda VERSION '0.3.0';
	CREATE ROLE app03;
	GRANT EXECUTE ON FUNCTION awslambda_invoke(text, jsonb, text, text, text, jsonb, text),
	                          awslambda_invoke_many(text, jsonb[], text, text, text, jsonb, text, boolean),
	                          awslambda_invoke_async(text, jsonb, text, text, text, text) TO app03;
});
is($node->safe_psql('v03', q{SELECT status_code || ' ' || (payload->>'v') || ' ' || executed_version
                               FROM awslambda_invoke('lambdaTest', '{"v": "0.3.0"}')}),
	'200 0.3.0 $LATEST', 'awslambda_invoke of 0.3.0 works');
is($node->safe_psql('v03', q{SELECT string_agg(ordinality || ':' || status_code, ',')
                               FROM awslambda_invoke_many('lambdaTest', ARRAY['{}', '{}']::jsonb[])}),
	'1:200,2:200', 'awslambda_invoke_many of 0.3.0 works');
my $id03 = $node->safe_psql('v03', q{SELECT awslambda_invoke_async('lambdaTest', '{"v": "queued 0.3.0"}', 'RequestResponse')});
ok(awl_wait_finished($node, 'v03'), 'an invocation queued in a 0.3.0 database is sent');
is($node->safe_psql('v03', "SELECT status || ' ' || (response->>'v') FROM awslambda_invocations WHERE id = '$id03'"),
	'succeeded queued 0.3.0', 'and its response recorded');
$node->safe_psql('v03', 'ALTER EXTENSION awslambda UPDATE');
is($node->safe_psql('v03', q{
	SELECT string_agg(p.proname || ' ' || pg_catalog.has_function_privilege('app03', p.oid, 'EXECUTE'), ', ' ORDER BY p.proname)
	  FROM pg_proc p WHERE p.proname IN ('awslambda_invoke', 'awslambda_invoke_many', 'awslambda_invoke_async')}),
	'awslambda_invoke true, awslambda_invoke_async true, awslambda_invoke_many true',
	'the update keeps the EXECUTE grants on the functions it makes anew (and leaves one of each)');
my $tenant = $node->safe_psql('v03', q{SELECT awslambda_invoke_async('lambdaTenant', '{"v": "0.4.0"}', 'RequestResponse', tenant_id => 'blue')});
ok(awl_wait_finished($node, 'v03'), 'a tenant invocation queued after the update is sent');
is($node->safe_psql('v03', "SELECT status || ' ' || tenant_id || ' ' || (response->>'tenant') FROM awslambda_invocations WHERE id = '$tenant'"),
	'succeeded blue blue', 'with its tenant id');

# A database at 0.4.0: the library of 0.5.0 sends its queue; the update
# makes awslambda_invoke_async anew (run_at, max_attempts, dedup_key,
# dedup_mode), keeping the roles' grants (and grant options); triggers
# calling it and awslambda_fn_async keep working; a retry waiting at the
# time of the update is sent when due.
$node->safe_psql('postgres', 'CREATE DATABASE v04');
$node->safe_psql('v04', q{
	CREATE EXTENSION awslambda VERSION '0.4.0';
	CREATE ROLE app04;
	CREATE ROLE app04b;
	GRANT EXECUTE ON FUNCTION awslambda_invoke_async(text, jsonb, text, text, text, text, text, text, boolean)
	  TO app04 WITH GRANT OPTION;
	GRANT EXECUTE ON FUNCTION awslambda_invoke_async(text, jsonb, text, text, text, text, text, text, boolean)
	  TO app04b;
	CREATE TABLE t04 (id int, v text);
	CREATE FUNCTION t04_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
	BEGIN
	    PERFORM awslambda_fn_async('lambdaTest', json_build_object('fn_async', NEW.v)::text);
	    PERFORM awslambda_invoke_async('lambdaTest', jsonb_build_object('invoke_async', NEW.v), 'Event',
	                                   NULL, NULL, NULL, NULL, NULL, false);
	    RETURN NEW;
	END $$;
	CREATE TRIGGER t04_lambda AFTER INSERT ON t04 FOR EACH ROW EXECUTE FUNCTION t04_trigger();
});
awl_reset_mock($node);
$node->safe_psql('v04', q{INSERT INTO t04 VALUES (1, 'at 0.4.0')});
ok(awl_wait_finished($node, 'v04'), 'a 0.4.0 database\'s trigger invocations are sent');
($rc, $out, $err) = $node->psql('v04', q{SELECT awslambda_invoke_async('lambdaTest', '{}', dedup_key => 'k')});
like($err, qr/function awslambda_invoke_async\(unknown, unknown, dedup_key => unknown\) does not exist/,
	'a 0.4.0 database has no dedup_key argument yet');
my $retry04 = $node->safe_psql('v04', q{
	INSERT INTO awslambda_invocations_pending (id, function_name, region, invocation_type, payload,
	                                           invoked_by, attempts, next_attempt_at)
	VALUES (gen_random_uuid(), 'lambdaTest', 'us-east-1', 'Event', '{"retry04": 1}',
	        'postgres'::regrole, 1, now() + interval '3 seconds')
	RETURNING id});
$node->safe_psql('v04', 'ALTER EXTENSION awslambda UPDATE');
is($node->safe_psql('v04', q{SELECT extversion FROM pg_extension WHERE extname = 'awslambda'}), '0.5.0',
	'updated to 0.5.0');
is($node->safe_psql('v04', q{
	SELECT string_agg(a.grantee::regrole || ' ' || a.is_grantable, ', ' ORDER BY a.grantee::regrole::text)
	  FROM pg_proc p, aclexplode(p.proacl) a
	 WHERE p.proname = 'awslambda_invoke_async' AND a.grantee <> p.proowner}),
	'app04 true, app04b false', 'the update keeps the EXECUTE grants (and the grant option) on the new function');
is($node->safe_psql('v04', q{SELECT count(*) FROM pg_proc WHERE proname = 'awslambda_invoke_async'}), '1',
	'and leaves one awslambda_invoke_async');
ok($node->poll_query_until('v04', "SELECT status = 'sent' FROM awslambda_invocation('$retry04')"),
	'the retry waiting at the update is sent when due');
$node->safe_psql('v04', q{INSERT INTO t04 VALUES (2, 'at 0.5.0')});
my $key04 = $node->safe_psql('v04', q{
	SELECT awslambda_invoke_async('lambdaTest', '{"key04": 1}', dedup_key => 'k', run_at => clock_timestamp() + interval '1 s');
	SELECT awslambda_invoke_async('lambdaTest', '{"key04": 2}', dedup_key => 'k', max_attempts => 2)});
$key04 = (split /\n/, $key04)[-1];
ok(awl_wait_finished($node, 'v04'), 'after the update, the trigger and the new arguments work');
my $acc04 = awl_accepted($node, 'lambdaTest', 1);
is(join(',', sort grep { /at 0\.5\.0|key04|retry04/ } @{ $acc04->{payloads} }),
	'{"fn_async" : "at 0.5.0"},{"invoke_async": "at 0.5.0"},{"key04": 2},{"retry04": 1}',
	'each reached Lambda once (the key\'s last payload)');
is($node->safe_psql('v04', "SELECT max_attempts || ' ' || dedup_key FROM awslambda_invocation('$key04')"),
	'2 k', 'with its options recorded');

# The updated extension has what a fresh one has.
$node->safe_psql('postgres', 'CREATE DATABASE fresh');
$node->safe_psql('fresh', 'CREATE EXTENSION awslambda');
my $shape = q{
	SELECT string_agg(pg_describe_object(classid, objid, objsubid), E'\n' ORDER BY 1)
	  FROM pg_depend WHERE refclassid = 'pg_extension'::regclass
	   AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'awslambda')
	UNION ALL
	SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), ', ' ORDER BY attnum)
	  FROM pg_attribute WHERE attrelid = 'awslambda_invocations'::regclass AND attnum > 0 AND NOT attisdropped
	UNION ALL
	SELECT string_agg(pg_get_functiondef(p.oid), E'\n' ORDER BY p.proname)
	  FROM pg_proc p JOIN pg_depend d ON d.objid = p.oid AND d.classid = 'pg_proc'::regclass
	 WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'awslambda')
	UNION ALL
	SELECT pg_get_expr(polqual, polrelid) FROM pg_policy WHERE polrelid = 'awslambda_invocations'::regclass
	UNION ALL
	SELECT string_agg(p.oid::regprocedure || ' ' || coalesce(p.proacl::text, 'default'), E'\n' ORDER BY 1)
	  FROM pg_proc p JOIN pg_depend d ON d.objid = p.oid AND d.classid = 'pg_proc'::regclass
	 WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'awslambda')
	UNION ALL
	SELECT string_agg(c.oid::regclass || ' ' || coalesce(c.relacl::text, 'default') || ' '
	                  || coalesce(pg_get_viewdef(c.oid), ''), E'\n' ORDER BY 1)
	  FROM pg_class c JOIN pg_depend d ON d.objid = c.oid AND d.classid = 'pg_class'::regclass
	 WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'awslambda')
	UNION ALL
	SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod) || ' ' || attnotnull
	                  || ' ' || coalesce(pg_get_expr(d.adbin, d.adrelid), ''), ', ' ORDER BY attnum)
	  FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
	 WHERE attrelid = 'awslambda_invocations_pending'::regclass AND attnum > 0 AND NOT attisdropped
	UNION ALL
	SELECT string_agg(polname || ' ' || pg_get_expr(polqual, polrelid), E'\n' ORDER BY polname) FROM pg_policy
	 WHERE polrelid IN ('awslambda_invocations'::regclass, 'awslambda_invocations_pending'::regclass,
	                    'awslambda_paused_functions'::regclass)
	UNION ALL
	SELECT string_agg(indexdef, E'\n' ORDER BY indexname) FROM pg_indexes
	 WHERE tablename IN ('awslambda_invocations', 'awslambda_invocations_pending', 'awslambda_paused_functions')
	UNION ALL
	SELECT string_agg(conname || ' ' || pg_get_constraintdef(oid), E'\n' ORDER BY conname) FROM pg_constraint
	 WHERE conrelid IN ('awslambda_invocations'::regclass, 'awslambda_invocations_pending'::regclass,
	                    'awslambda_paused_functions'::regclass)
	UNION ALL
	SELECT string_agg(relname || ' ' || coalesce(array_to_string(reloptions, ','), '') || ' '
	                  || relrowsecurity || ' ' || coalesce(array_to_string(relacl, ','), ''), E'\n' ORDER BY relname)
	  FROM pg_class WHERE relname IN ('awslambda_invocations', 'awslambda_invocations_pending',
	                                  'awslambda_paused_functions')};
is($node->safe_psql('up', $shape), $node->safe_psql('fresh', $shape),
	'objects, columns, functions, policy, privileges and views equal a fresh install');
$node->safe_psql('v04', q{REVOKE ALL ON FUNCTION awslambda_invoke_async(text, jsonb, text, text, text, text, text, text, boolean,
                                                                      timestamptz, integer, text, text) FROM app04, app04b});
is($node->safe_psql('v04', $shape), $node->safe_psql('fresh', $shape),
	'so has one updated from 0.4.0');

$node->stop;
done_testing();
