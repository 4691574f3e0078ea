# Exactly one dispatcher per database, whatever happens to the launcher: a
# launcher that is terminated (and restarted by the postmaster) has lost its
# handles on the running dispatchers, and must not start second ones, which
# would re-queue the first one's in-flight invocations and send them twice.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use AwlTap;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = awl_node('one_dispatcher');
awl_reset_mock($node);
$node->safe_psql('postgres', 'CREATE DATABASE second');
$node->safe_psql('second', 'CREATE EXTENSION awslambda');
$node->safe_psql('postgres', q{SELECT awslambda_fn_async('lambdaTest', '{"warm": "postgres"}')});
$node->safe_psql('second', q{SELECT awslambda_fn_async('lambdaTest', '{"warm": "second"}')});
ok(awl_wait_finished($node, 'postgres') && awl_wait_finished($node, 'second'), 'both databases served');

sub dispatchers
{
	return $node->safe_psql('postgres',
		"SELECT string_agg(datname, ',' ORDER BY datname) FROM pg_stat_activity WHERE backend_type = 'awslambda dispatcher'");
}

sub launcher_pid
{
	return $node->safe_psql('postgres',
		"SELECT pid FROM pg_stat_activity WHERE backend_type = 'awslambda launcher'");
}

my $first = awl_dispatcher_pid($node);
for my $round (1 .. 3)
{
	my $old = launcher_pid();
	# Invocations in flight while the launcher goes: slow ones, so that a
	# second dispatcher's recovery would find them 'sending'.
	$node->safe_psql('postgres', qq{
		SELECT count(awslambda_invoke_async('lambdaSleep', json_build_object('seconds', 1, 'round', $round, 'n', g)::jsonb,
		                                    'RequestResponse'))
		  FROM generate_series(1, 20) g;
		SELECT pg_terminate_backend($old);
	});
	ok($node->poll_query_until('postgres',
			"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'awslambda launcher' AND pid <> $old"),
		"round $round: a new launcher runs");
	sleep(2);    # what the new launcher would start, it starts within a second
	is(dispatchers(), 'postgres,second', "round $round: still one dispatcher per database");
}
is(awl_dispatcher_pid($node), $first, 'the first dispatcher is still the one running');
ok(awl_wait_finished($node), 'everything queued around the restarts finished');
my $got = awl_accepted($node, 'lambdaSleep');
is($got->{count}, 60, 'each of the 60 slow invocations reached the function once');
is($got->{distinct_payloads}, 60, 'no payload twice');
is($node->safe_psql('postgres', "SELECT max(attempts) FROM awslambda_invocations WHERE function_name = 'lambdaSleep'"),
	'1', 'none was attempted twice');

# Commits still wake the dispatcher at once (its latch is still the slot's).
my $start = time();
$node->safe_psql('postgres', q{SELECT awslambda_fn_async('lambdaTest', '{"after": "restarts"}')});
ok(awl_wait_finished($node), 'an invocation after the restarts finished');
cmp_ok(time() - $start, '<', 5, 'woken by the commit, not found by the 10 s look');

# A dispatcher that stops is still restarted by a launcher without a handle on it.
my $pid = awl_dispatcher_pid($node);
$node->safe_psql('postgres', "SELECT pg_terminate_backend($pid)");
ok($node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'awslambda dispatcher' AND datname = 'postgres' AND pid <> $pid"),
	'a terminated dispatcher is started again by the new launcher');
is(dispatchers(), 'postgres,second', 'and there is still one per database');

$node->stop;
done_testing();
