# Shared by the TAP tests: a PostgreSQL node that preloads awslambda and
# talks to the mock Lambda the harness started (MOCK_URL), plus helpers to
# ask the mock what reached it and to wait for the queue.
package AwlTap;

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Exporter 'import';

our @EXPORT = qw(awl_node awl_accepted awl_reset_mock awl_wait_finished awl_dispatcher_pid
  awl_wait_accepting);

die "MOCK_URL is not set (run the TAP tests through test/run)\n" unless $ENV{MOCK_URL};

# A started node with the extension installed in database postgres;
# allows_streaming => 1 or 'logical' is passed to init, the rest is configuration.
sub awl_node
{
	my ($name, %conf) = @_;
	my $streaming = delete $conf{allows_streaming};
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init($streaming ? (allows_streaming => $streaming) : ());
	my $extra = join('', map { "$_ = '$conf{$_}'\n" } sort keys %conf);
	$node->append_conf('postgresql.conf', <<"CONF" . $extra);
shared_preload_libraries = 'awslambda'
awslambda.endpoint_url = '$ENV{MOCK_URL}'
fsync = off
max_worker_processes = 16
log_min_messages = log
restart_after_crash = on
CONF
	$node->start;
	$node->safe_psql('postgres', 'CREATE EXTENSION awslambda');
	return $node;
}

# What reached function $fn at the mock, as a hash (see test/mock/README.md).
sub awl_accepted
{
	my ($node, $fn, $payloads) = @_;
	my $arg = $payloads ? qq({"function": "$fn", "payloads": true}) : qq({"function": "$fn"});
	my $json = $node->safe_psql('postgres', "SELECT awslambda_fn('mockAccepted', '$arg')");
	return JSON::PP::decode_json($json);
}

sub awl_reset_mock
{
	my ($node, %config) = @_;
	my $extra = join('', map { qq(, "$_": $config{$_}) } sort keys %config);
	$node->safe_psql('postgres',
		qq(SELECT awslambda_fn('mockConfig', '{"reset_counters": true$extra}')));
}

# Waits until no invocation of the database is unfinished.
sub awl_wait_finished
{
	my ($node, $db) = @_;
	return $node->poll_query_until($db // 'postgres',
		'SELECT count(*) = 0 FROM awslambda_invocations WHERE finished_at IS NULL');
}

# Waits until the node accepts connections again (after a crash restart).
# Not poll_query_until: that feeds its query to psql's standard input, and a
# psql refused during recovery exits before reading it, so the write can fail
# with EPIPE and take the test down. Here the query is an argument.
sub awl_wait_accepting
{
	my ($node) = @_;
	my $cmd = [ $node->installed_command('psql'), '-XAt', '-d', $node->connstr('postgres'),
		'-c', 'SELECT 1' ];
	for (1 .. 10 * $PostgreSQL::Test::Utils::timeout_default)
	{
		my ($stdout, $stderr) = ('', '');
		IPC::Run::run($cmd, '<', '/dev/null', '>', \$stdout, '2>', \$stderr);
		chomp $stdout;
		return 1 if $stdout eq '1';
		select(undef, undef, undef, 0.1);
	}
	return 0;
}

sub awl_dispatcher_pid
{
	my ($node, $db) = @_;
	return $node->safe_psql('postgres',
		"SELECT pid FROM pg_stat_activity WHERE backend_type = 'awslambda dispatcher' AND datname = '"
		  . ($db // 'postgres') . "'");
}

use JSON::PP;

1;
