# The dispatcher process: terminated or killed, it comes back and delivers
# everything; it follows configuration reloads.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use AwlTap;
use Test::More;

my $node = awl_node('dispatcher');
awl_reset_mock($node);

$node->safe_psql('postgres', q{SELECT awslambda_fn_async('lambdaTest', '{"warm": "up"}')});
ok(awl_wait_finished($node), 'first invocation finished');
my $pid = awl_dispatcher_pid($node);
like($pid, qr/^\d+$/, 'dispatcher visible in pg_stat_activity');
is($node->safe_psql('postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'awslambda launcher'"),
	'1', 'launcher visible in pg_stat_activity');

# pg_terminate_backend: the launcher starts a new dispatcher, which sends what
# was queued meanwhile.
$node->safe_psql('postgres', qq{
	BEGIN;
	SELECT pg_terminate_backend($pid);
	SELECT count(awslambda_fn_async('lambdaTest', json_build_object('after_terminate', g)::text))
	  FROM generate_series(1, 200) g;
	COMMIT;
});
ok(awl_wait_finished($node), 'invocations queued around the termination finished');
my $new_pid = awl_dispatcher_pid($node);
isnt($new_pid, $pid, 'a new dispatcher runs');

# SIGKILL: the postmaster restarts all processes (crash recovery); whatever
# was queued or in flight is delivered afterwards.
$node->safe_psql('postgres', q{
	SELECT count(awslambda_fn_async('lambdaTest', json_build_object('around_kill', g)::text))
	  FROM generate_series(1, 1000) g;
});
kill 'KILL', $new_pid;
ok(awl_wait_accepting($node), 'server back after the kill');
ok(awl_wait_finished($node), 'invocations queued before the kill finished');
my $got = awl_accepted($node, 'lambdaTest', 1);
my %seen = map { $_ => 1 } @{ $got->{payloads} };
is(scalar(grep { $seen{qq({"after_terminate" : $_})} } 1 .. 200), 200,
	'all 200 invocations queued around the termination arrived');
is(scalar(grep { $seen{qq({"around_kill" : $_})} } 1 .. 1000), 1000,
	'all 1,000 invocations queued before the kill arrived');
is($node->safe_psql('postgres', "SELECT count(*) FROM awslambda_invocations WHERE status <> 'sent'"),
	'0', 'all recorded as sent');

# SIGHUP: a new awslambda.async_max_attempts applies without a restart.
$node->safe_psql('postgres', 'ALTER SYSTEM SET awslambda.async_max_attempts = 1');
$node->reload;
$node->poll_query_until('postgres', 'SHOW awslambda.async_max_attempts', '1');
sleep(1);    # the dispatcher gets the same SIGHUP
my $id = $node->safe_psql('postgres', q{
	SELECT awslambda_invoke_async('mockStatus',
	       '{"n": "reload", "times": 5, "status": 503, "code": "ServiceUnavailableException"}', 'RequestResponse')});
ok(awl_wait_finished($node), 'throttled invocation finished');
is($node->safe_psql('postgres', "SELECT status || ' ' || attempts || ' ' || http_status FROM awslambda_invocations WHERE id = '$id'"),
	'failed 1 503', 'one attempt only after the reload');
like($node->safe_psql('postgres', "SELECT error_detail FROM awslambda_invocations WHERE id = '$id'"),
	qr/gave up after 1 attempts/, 'the row says it gave up');

# Retention: finished rows go once they are older than awslambda.async_retention.
$node->safe_psql('postgres', 'ALTER SYSTEM SET awslambda.async_retention = 0');
$node->reload;
$node->poll_query_until('postgres', 'SHOW awslambda.async_retention', '0');
$node->safe_psql('postgres', q{SELECT awslambda_fn_async('lambdaTest', '{"retention": 0}')});
ok($node->poll_query_until('postgres', q{SELECT count(*) = 0 FROM awslambda_invocations WHERE status <> 'failed'}),
	'finished rows removed after the retention');
is($node->safe_psql('postgres', q{SELECT count(*) > 0 FROM awslambda_invocations WHERE status = 'failed'}), 't',
	'failed ones are kept: awslambda.async_failed_retention is -1');
$node->safe_psql('postgres', 'ALTER SYSTEM SET awslambda.async_failed_retention = 0');
$node->reload;
ok($node->poll_query_until('postgres', 'SELECT count(*) = 0 FROM awslambda_invocations'),
	'failed rows removed after awslambda.async_failed_retention');

$node->stop;
done_testing();
