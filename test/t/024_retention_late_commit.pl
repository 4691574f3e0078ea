# Finished invocations whose finish commits late still go when their
# retention is over: a cancel dates the row with its transaction's start,
# and that transaction may commit after the dispatcher's removals went past
# that time.  The dispatcher looks again from the oldest row every ten
# removal rounds, so such a row is removed within that many rounds (here
# one a second).
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use AwlTap;
use IPC::Run;
use PostgreSQL::Test::Utils;
use Test::More;

# Removal rounds every second (as often as the retention is short).
my $node = awl_node('retention_late', 'awslambda.async_retention' => '1s');
awl_reset_mock($node);

my $id = $node->safe_psql('postgres',
	q{SELECT awslambda_invoke_async('lambdaTest', '{"late": 1}', run_at => now() + interval '1 hour')});

# Cancelled in a transaction that stays open across several removal rounds.
my ($in, $out) = ('', '');
my $h = IPC::Run::start([ 'psql', '-X', '-qAt', '-d', $node->connstr('postgres') ], '<', \$in, '>', \$out, '2>&1');
$in .= "BEGIN; SELECT awslambda_cancel('$id');\n";
$h->pump until $out =~ /^[tf]$/m or !$h->pumpable;
is($out, "t\n", 'cancelled, not committed yet');
sleep 4;
$node->safe_psql('postgres', q{SELECT awslambda_invoke_async('lambdaTest', '{"meanwhile": 1}')});
sleep 2;    # that one finished and was removed: the removals went past the cancel's time
$in .= "COMMIT;\n\\q\n";
$h->finish;
is($node->safe_psql('postgres', "SELECT status FROM awslambda_invocations WHERE id = '$id'"),
	'cancelled', 'the cancel committed');
# An idle dispatcher has a round every 10 s; one invocation a second keeps
# the rounds (and their removals) coming once a second.
my $gone = 0;
for my $tick (1 .. 120)
{
	$node->safe_psql('postgres', "SELECT awslambda_invoke_async('lambdaTest', '{\"tick\": $tick}')");
	sleep 1;
	$gone = $node->safe_psql('postgres', "SELECT count(*) = 0 FROM awslambda_invocations WHERE id = '$id'") eq 't';
	if ($gone)
	{
		note("removed after $tick s");
		last;
	}
}
ok($gone, 'the late-committed cancelled row is removed once its retention is over');
ok($node->poll_query_until('postgres', q{SELECT count(*) = 0 FROM awslambda_invocations}),
	'nothing is left behind');

$node->stop;
done_testing();
