# More connectable databases than dispatcher slots: after a restart the
# launcher still looks at every one of them, as slots free up, so queues in
# the first and the last database (in pg_database's order) are both sent.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use AwlTap;
use Test::More;

# Six background worker slots (the launcher and logical replication's launcher
# take two) for ten databases.
my $node = awl_node('many', max_worker_processes => 6,
	'awslambda.endpoint_url' => 'http://127.0.0.1:1');
$node->safe_psql('postgres', "CREATE DATABASE extra_$_") for 1 .. 9;
$node->safe_psql('extra_9', 'CREATE EXTENSION awslambda');

# Queued while Lambda cannot be reached: they stay queued.
for my $db ('postgres', 'extra_9')
{
	$node->safe_psql($db, qq{SELECT awslambda_fn_async('lambdaTest', '{"waiting in": "$db"}')});
	ok($node->poll_query_until($db,
			"SELECT attempts >= 1 AND status = 'queued' FROM awslambda_invocations"),
		"$db: tried, failed, still queued");
}

# Reachable again, and a restart: nothing but the launcher's sweep wakes it.
$node->append_conf('postgresql.conf', "awslambda.endpoint_url = '$ENV{MOCK_URL}'");
$node->restart;
for my $db ('postgres', 'extra_9')
{
	ok($node->poll_query_until($db, "SELECT status = 'sent' FROM awslambda_invocations"),
		"$db: sent after the restart, though ten databases took turns for the slots");
}

$node->stop;
done_testing();
