# A paused function's backlog does not hold up other functions' invocations
# queued behind it.  The claims read the held rows without locking them and
# pass them at once: before, a claim that took none of what it read waited a
# second for the next, so with a small awslambda.max_concurrency (16 rows per
# claim here) a backlog of 4,000 rows took 250 s to pass, and the look at the
# whole queue again every minute while pauses exist started it over: the
# invocation behind it was never sent.  After the resume every held
# invocation is sent, once.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use AwlTap;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = awl_node('paused_backlog', 'awslambda.max_concurrency' => '2');
awl_reset_mock($node);

$node->safe_psql('postgres', q{SELECT awslambda_pause('lambdaEcho')});
$node->safe_psql('postgres',
	q{SELECT count(awslambda_fn_async('lambdaEcho', json_build_object('held', g)::text)) FROM generate_series(1, 4000) g});
# A resume of another pattern has the dispatcher start its scans from the beginning.
$node->safe_psql('postgres', q{SELECT awslambda_pause('zzzOther'); SELECT awslambda_resume('zzzOther')});
my $id = $node->safe_psql('postgres', q{SELECT awslambda_fn_async('lambdaTest', '{"behind": true}')});

# Within 60 s, before the once-a-minute look could start the scan over.
my $sent = 0;
for (1 .. 600)
{
	$sent = $node->safe_psql('postgres',
		"SELECT count(*) FROM awslambda_invocations WHERE id = '$id' AND finished_at IS NOT NULL");
	last if $sent;
	select(undef, undef, undef, 0.1);
}
is($sent, 1, 'the invocation queued behind 4,000 paused ones is sent within a minute');
is($node->safe_psql('postgres',
		q{SELECT count(*) FROM ONLY awslambda_invocations_pending WHERE function_name = 'lambdaEcho' AND xmax <> '0'}),
	0, 'the held rows were read, not locked');

$node->safe_psql('postgres', q{SELECT awslambda_resume('lambdaEcho')});
ok(awl_wait_finished($node), 'resumed: the backlog is sent');
my $echo = awl_accepted($node, 'lambdaEcho', 1);
is("$echo->{count}/$echo->{distinct_payloads}", '4000/4000', 'each of the 4,000 once');
done_testing();
