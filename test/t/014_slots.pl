# More databases with the extension than dispatcher slots: a commit that
# finds no free slot says so, and its invocations are sent once slots free
# (the launcher looks at every database again), not only after a restart.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use AwlTap;
use PostgreSQL::Test::Utils;
use Test::More;

# Four slots, and four background workers: the awslambda launcher, the logical
# replication launcher and two dispatchers.
my $node = awl_node('slots', max_worker_processes => 4);
awl_reset_mock($node);
for my $db (qw(d1 d2 d3 d4))
{
	$node->safe_psql('postgres', "CREATE DATABASE $db");
}
for my $db (qw(d1 d2 d3))
{
	$node->safe_psql($db, 'CREATE EXTENSION awslambda');
}
ok($node->poll_query_until('postgres',
		"SELECT count(*) = 2 FROM pg_stat_activity WHERE backend_type = 'awslambda dispatcher'"),
	'two dispatchers run, the other databases with slots wait for a worker');

my ($rc, $out, $err) = $node->psql('d4', q{
	CREATE EXTENSION awslambda;
	SELECT awslambda_fn_async('lambdaTest', '{"db": "d4"}');
});
like($err, qr/no free awslambda dispatcher slot for database/, 'a commit that finds no slot says so');

$node->safe_psql('postgres', "DROP DATABASE $_") for qw(d1 d2 d3);
ok($node->poll_query_until('d4', q{SELECT count(*) = 1 FROM awslambda_invocations WHERE status = 'sent'}),
	'the invocation that found no slot is sent once slots free');
is_deeply(awl_accepted($node, 'lambdaTest', 1)->{payloads}, [ '{"db": "d4"}' ], 'it arrived once');

$node->stop;
done_testing();
