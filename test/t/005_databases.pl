# Several databases: each has its own dispatcher; DROP DATABASE stops it.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use AwlTap;
use Test::More;

my $node = awl_node('databases');
awl_reset_mock($node);
$node->safe_psql('postgres', 'CREATE DATABASE second');
$node->safe_psql('second', 'CREATE EXTENSION awslambda');

$node->safe_psql('postgres', q{SELECT awslambda_fn_async('lambdaTest', '{"db": "postgres"}')});
$node->safe_psql('second', q{SELECT awslambda_fn_async('lambdaTest', '{"db": "second"}')});
ok(awl_wait_finished($node, 'postgres'), 'database postgres served');
ok(awl_wait_finished($node, 'second'), 'database second served');
is_deeply([ sort @{ awl_accepted($node, 'lambdaTest', 1)->{payloads} } ],
	[ '{"db": "postgres"}', '{"db": "second"}' ], 'both invocations arrived');
is($node->safe_psql('postgres',
		"SELECT string_agg(datname, ',' ORDER BY datname) FROM pg_stat_activity WHERE backend_type = 'awslambda dispatcher'"),
	'postgres,second', 'one dispatcher per database');

# Databases without the extension get no lasting dispatcher.
$node->safe_psql('postgres', 'CREATE DATABASE plain');
$node->restart;
$node->safe_psql('second', q{SELECT awslambda_fn_async('lambdaTest', '{"db": "second, after restart"}')});
ok(awl_wait_finished($node, 'second'), 'served after a restart');
ok($node->poll_query_until('postgres',
		"SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'awslambda dispatcher' AND datname IN ('plain', 'template1')"),
	'no dispatcher stays in databases without the extension');

# DROP DATABASE does not wait for, or fail on, the database's dispatcher.
my $pid = awl_dispatcher_pid($node, 'second');
ok($pid =~ /^\d+$/, 'second has a dispatcher');
# A role that may not drop the database does not stop its dispatcher either.
$node->safe_psql('postgres', 'CREATE ROLE not_owner LOGIN');
my ($rc, $out, $err) = $node->psql('postgres', 'DROP DATABASE second', extra_params => [ '-U', 'not_owner' ]);
like($err, qr/must be owner of database second/, 'DROP DATABASE refused to a non-owner');
is(awl_dispatcher_pid($node, 'second'), $pid, 'and the dispatcher kept running');
$node->safe_psql('postgres', 'DROP DATABASE second');
is($node->safe_psql('postgres', "SELECT count(*) FROM pg_database WHERE datname = 'second'"), '0',
	'database dropped');
$node->safe_psql('postgres', q{SELECT awslambda_fn_async('lambdaTest', '{"db": "postgres, after drop"}')});
ok(awl_wait_finished($node, 'postgres'), 'the other database still served');

$node->stop;
done_testing();
