# Finished invocations whose finish commits late still go when their
# retention is over: a cancel dates the row with its transaction's start,
# and that transaction may commit after the dispatcher's removals went past
# that time.  The dispatcher looks again from the oldest row every ten
# removal rounds, so such a row is removed within that many rounds.
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
{
	local $PostgreSQL::Test::Utils::timeout_default = 60;
	ok($node->poll_query_until('postgres', "SELECT count(*) = 0 FROM awslambda_invocations WHERE id = '$id'"),
		'the late-committed cancelled row is removed once its retention is over');
}
is($node->safe_psql('postgres', q{SELECT count(*) FROM awslambda_invocations}), '0',
	'nothing is left behind');

$node->stop;
done_testing();
