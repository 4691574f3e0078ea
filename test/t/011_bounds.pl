# What bounds the dispatcher's work: a callback runs under a time limit
# (awslambda.async_callback_timeout), and a claim holds a bounded number of
# payload bytes, however large the backlog's payloads.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use AwlTap;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = awl_node('bounds', 'awslambda.async_callback_timeout' => '500ms');
awl_reset_mock($node);
$node->safe_psql('postgres', q{
	CREATE TABLE cb_log (id uuid);
	CREATE FUNCTION cb_slow(inv awslambda_invocations) RETURNS void LANGUAGE sql
	  AS 'SELECT pg_sleep(60)';
	CREATE FUNCTION cb_fast(inv awslambda_invocations) RETURNS void LANGUAGE sql
	  AS 'INSERT INTO cb_log VALUES (inv.id)';
});

# A callback over the time limit is cancelled, its error recorded; the next one runs.
my $slow = $node->safe_psql('postgres', q{SELECT awslambda_invoke_async('lambdaTest', '{}', callback => 'cb_slow')});
my $fast = $node->safe_psql('postgres', q{SELECT awslambda_invoke_async('lambdaTest', '{}', callback => 'cb_fast')});
ok($node->poll_query_until('postgres',
		"SELECT count(*) = 2 FROM awslambda_invocations WHERE callback_done_at IS NOT NULL"),
	'both callbacks were dealt with');
like($node->safe_psql('postgres', "SELECT callback_error FROM awslambda_invocations WHERE id = '$slow'"),
	qr/canceling statement due to statement timeout/, 'the slow callback was cancelled at the time limit');
is($node->safe_psql('postgres', "SELECT count(*) FROM cb_log WHERE id = '$fast'"), '1',
	'the callback after it ran');
my $fast2 = $node->safe_psql('postgres', q{SELECT awslambda_invoke_async('lambdaTest', '{}', callback => 'cb_fast')});
ok($node->poll_query_until('postgres', "SELECT count(*) = 1 FROM cb_log WHERE id = '$fast2'"),
	'later callbacks run normally (the time limit was cleared)');

# A callback that catches the cancel is ended for good a while later, twice,
# then no more; one that sets exit_on_error and fails likewise.  Delivery
# goes on meanwhile.
$node->safe_psql('postgres', q{
	CREATE FUNCTION cb_stubborn(inv awslambda_invocations) RETURNS void LANGUAGE plpgsql AS $$
	BEGIN
		LOOP
			BEGIN PERFORM pg_sleep(3600); EXCEPTION WHEN query_canceled THEN NULL; END;
		END LOOP;
	END $$;
	CREATE FUNCTION cb_exit(inv awslambda_invocations) RETURNS void LANGUAGE plpgsql AS $$
	BEGIN PERFORM set_config('exit_on_error', 'on', true); RAISE EXCEPTION 'boom'; END $$;
});
my $stubborn = $node->safe_psql('postgres', q{SELECT awslambda_invoke_async('lambdaTest', '{}', callback => 'cb_stubborn')});
my $exiting = $node->safe_psql('postgres', q{SELECT awslambda_invoke_async('lambdaTest', '{}', callback => 'cb_exit')});
ok($node->poll_query_until('postgres',
		"SELECT count(*) = 2 FROM awslambda_invocations WHERE id IN ('$stubborn', '$exiting') AND callback_done_at IS NOT NULL"),
	'callbacks that end the dispatcher are given up');
like($node->safe_psql('postgres', "SELECT callback_error FROM awslambda_invocations WHERE id = '$stubborn'"),
	qr/not run again: the dispatcher stopped while running this callback/, 'the one that caught the cancel');
like($node->safe_psql('postgres', "SELECT callback_error FROM awslambda_invocations WHERE id = '$exiting'"),
	qr/not run again/, 'the one that set exit_on_error');
my $after = $node->safe_psql('postgres', q{SELECT awslambda_invoke_async('lambdaTest', '{}', callback => 'cb_fast')});
ok($node->poll_query_until('postgres', "SELECT count(*) = 1 FROM cb_log WHERE id = '$after'"),
	'later invocations and callbacks go on');

# 70 payloads of 1,000,000 bytes: more than one claim's 64 MB.
$node->safe_psql('postgres', q{
	ALTER SYSTEM SET log_min_messages = debug1;
	SELECT pg_reload_conf();
});
my $log_start = -s $node->logfile;
$node->safe_psql('postgres', q{
	SELECT count(awslambda_invoke_async('lambdaEcho', jsonb_build_object('n', g, 'pad', repeat('x', 1000000 - 40))))
	  FROM generate_series(1, 70) g;
});
ok(awl_wait_finished($node), 'the 70 large invocations finished');
is($node->safe_psql('postgres', q{SELECT count(*) FROM awslambda_invocations WHERE function_name = 'lambdaEcho' AND status = 'sent'}),
	'70', 'all sent');
my @claims = (slurp_file($node->logfile, $log_start) =~ /claimed (\d+) of (\d+) due invocations, (\d+) payload bytes/g);
my ($max_bytes, $cut) = (0, 0);
while (my ($n, $due, $bytes) = splice(@claims, 0, 3))
{
	$max_bytes = $bytes if $bytes > $max_bytes;
	$cut = 1 if $n < $due;
}
cmp_ok($max_bytes, '<=', 64 * 1024 * 1024, 'no claim held more than 64 MB of payloads');
ok($cut, 'a claim stopped short of the due rows because of their size');
$node->safe_psql('postgres', 'ALTER SYSTEM RESET log_min_messages; SELECT pg_reload_conf()');

$node->stop;
done_testing();
