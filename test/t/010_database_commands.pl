# Commands that need a database without other connections work with a
# dispatcher connected to it, and every committed invocation is sent within
# seconds afterwards: COMMIT PREPARED and CREATE EXTENSION wake the
# dispatcher; a failed DROP DATABASE, CREATE DATABASE ... TEMPLATE, RENAME
# and SET TABLESPACE bring it back; a DROP DATABASE that PostgreSQL would
# refuse (inside a transaction block) does not stop it.
use strict;
use warnings;
use File::Spec;
use FindBin;
use lib $FindBin::Bin;
use AwlTap;
use PostgreSQL::Test::Utils;
use IPC::Run;
use Test::More;

my $node = awl_node('dbcommands', max_prepared_transactions => 5);
awl_reset_mock($node);

sub dispatcher_of
{
	my ($db) = @_;
	return $node->safe_psql('postgres',
		"SELECT coalesce(min(pid), 0) FROM pg_stat_activity WHERE backend_type = 'awslambda dispatcher' AND datname = '$db'");
}

# Sent within 5 s: woken, not found by the dispatcher's 10 s look.
sub sent_soon
{
	my ($db, $id, $what) = @_;
	local $PostgreSQL::Test::Utils::timeout_default = 5;
	ok($node->poll_query_until($db, "SELECT status = 'sent' FROM awslambda_invocations WHERE id = '$id'"),
		"$what: sent within seconds");
}

# A database created after the server started: CREATE EXTENSION starts its dispatcher.
$node->safe_psql('postgres', 'CREATE ROLE owner1 LOGIN CREATEDB; CREATE DATABASE prep OWNER owner1');
$node->safe_psql('prep', 'CREATE EXTENSION awslambda');
ok($node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'awslambda dispatcher' AND datname = 'prep'"),
	'CREATE EXTENSION starts the database\'s dispatcher');

# COMMIT PREPARED wakes the dispatcher.
sleep(1);    # let it settle into its idle wait
$node->safe_psql('prep', q{
	BEGIN;
	SELECT awslambda_fn_async('lambdaTest', '{"prepared": 1}');
	PREPARE TRANSACTION 'awl1';
});
$node->safe_psql('prep', q{COMMIT PREPARED 'awl1'});
my $prepared = $node->safe_psql('prep', q{SELECT id FROM awslambda_invocations WHERE payload = '{"prepared": 1}'});
sent_soon('prep', $prepared, 'COMMIT PREPARED');

# BEGIN; DROP DATABASE fails in PostgreSQL; it must not stop the dispatcher.
my $pid = dispatcher_of('prep');
for (1 .. 5)
{
	my ($rc, $out, $err) = $node->psql('postgres', 'BEGIN; DROP DATABASE prep; ROLLBACK;',
		extra_params => [ '-U', 'owner1' ]);
	like($err, qr/cannot run inside a transaction block/, 'DROP DATABASE refused in a transaction block')
	  if $_ == 1;
}
is(dispatcher_of('prep'), $pid, 'the dispatcher was not stopped by refused DROP DATABASEs');

# A DROP DATABASE that fails (another session is connected): the dispatcher comes back.
my ($in, $out) = ('', '');
my $h = IPC::Run::start([ 'psql', '-X', '-At', '-d', $node->connstr('prep') ], '<', \$in, '>', \$out, '2>&1');
$in .= "SELECT 'connected';\n";
$h->pump until $out =~ /connected/;
my ($rc, $o, $err) = $node->psql('postgres', 'DROP DATABASE prep', extra_params => [ '-U', 'owner1' ]);
like($err, qr/is being accessed by other users/, 'DROP DATABASE fails while a session is connected');
$in .= "\\q\n";
$h->finish;
ok($node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'awslambda dispatcher' AND datname = 'prep'"),
	'after the failed DROP DATABASE the dispatcher is back');
my $id = $node->safe_psql('prep', q{SELECT awslambda_fn_async('lambdaTest', '{"after": "failed drop"}')});
sent_soon('prep', $id, 'after a failed DROP DATABASE');

# CREATE DATABASE ... TEMPLATE, RENAME and SET TABLESPACE with a dispatcher connected.
my $pid_before = dispatcher_of('prep');
$node->safe_psql('postgres', 'CREATE DATABASE copy1 TEMPLATE prep', extra_params => [ '-U', 'owner1' ]);
pass('CREATE DATABASE ... TEMPLATE a database with a dispatcher');
$id = $node->safe_psql('prep', q{SELECT awslambda_fn_async('lambdaTest', '{"after": "template"}')});
sent_soon('prep', $id, 'after CREATE DATABASE ... TEMPLATE');

$node->safe_psql('postgres', 'ALTER DATABASE prep RENAME TO prep2', extra_params => [ '-U', 'owner1' ]);
pass('ALTER DATABASE ... RENAME with a dispatcher');
$id = $node->safe_psql('prep2', q{SELECT awslambda_fn_async('lambdaTest', '{"after": "rename"}')});
sent_soon('prep2', $id, 'after ALTER DATABASE ... RENAME');

# With an invocation in flight the dispatcher finishes it before it leaves,
# and the command waits for that in a wait event of awslambda's own
# (AwsLambdaDispatcherStop from 17 on, the generic Extension before).
my $slow = $node->safe_psql('prep2',
	q{SELECT awslambda_invoke_async('lambdaSleep', '{"seconds": 3}', 'RequestResponse')});
ok($node->poll_query_until('prep2', "SELECT status = 'sending' FROM awslambda_invocations WHERE id = '$slow'"),
	'a slow invocation in flight');
my ($rename_out, $rename_err) = ('', '');
my $renaming = IPC::Run::start(
	[ 'psql', '-X', '-q', '-U', 'owner1', '-d', $node->connstr('postgres'), '-c', 'ALTER DATABASE prep2 RENAME TO prep3' ],
	'>', \$rename_out, '2>', \$rename_err);
my $stop_event = $node->pg_version >= 17 ? 'AwsLambdaDispatcherStop' : 'Extension';
ok($node->poll_query_until('postgres', qq{
	SELECT wait_event_type = 'Extension' AND wait_event = '$stop_event'
	  FROM pg_stat_activity WHERE query = 'ALTER DATABASE prep2 RENAME TO prep3'}),
	"ALTER DATABASE waits for the dispatcher to leave in the wait event $stop_event");
$renaming->finish;
is($rename_err, '', 'the rename goes through once the dispatcher left');
$node->safe_psql('postgres', 'ALTER DATABASE prep3 RENAME TO prep2', extra_params => [ '-U', 'owner1' ]);
ok($node->poll_query_until('prep2', "SELECT status = 'succeeded' FROM awslambda_invocations WHERE id = '$slow'"),
	'the invocation that was in flight succeeded');
is($node->safe_psql('prep2', "SELECT attempts FROM awslambda_invocations WHERE id = '$slow'"), '1',
	'in one attempt: it was not sent again');

# Absolute: from 17 on the node's directories are named relative to the test's.
my $ts = File::Spec->rel2abs($node->basedir) . '/ts1';
mkdir $ts;
$node->safe_psql('postgres', "CREATE TABLESPACE ts1 LOCATION '$ts'; GRANT CREATE ON TABLESPACE ts1 TO owner1");
$node->safe_psql('postgres', 'ALTER DATABASE prep2 SET TABLESPACE ts1', extra_params => [ '-U', 'owner1' ]);
pass('ALTER DATABASE ... SET TABLESPACE with a dispatcher');
$id = $node->safe_psql('prep2', q{SELECT awslambda_fn_async('lambdaTest', '{"after": "tablespace"}')});
sent_soon('prep2', $id, 'after ALTER DATABASE ... SET TABLESPACE');

# A role that may not run these does not make the dispatcher leave.
$node->safe_psql('postgres', 'CREATE ROLE nobody1 LOGIN');
$pid = dispatcher_of('prep2');
($rc, $o, $err) = $node->psql('postgres', 'CREATE DATABASE copy2 TEMPLATE prep2', extra_params => [ '-U', 'nobody1' ]);
like($err, qr/permission denied to create database/, 'a role without CREATEDB is refused');
($rc, $o, $err) = $node->psql('postgres', 'ALTER DATABASE prep2 RENAME TO x', extra_params => [ '-U', 'nobody1' ]);
like($err, qr/must be owner of database prep2/, 'a non-owner cannot rename');
is(dispatcher_of('prep2'), $pid, 'and the dispatcher kept running');

# Nothing was sent twice.
my $got = awl_accepted($node, 'lambdaTest', 1);
is($got->{count}, $got->{distinct_payloads}, 'no invocation reached Lambda twice');

$node->stop;
done_testing();
