# The dispatcher's pipeline under a held queue, flow limits and micro-batch
# limits (found by review): a subscriber's dispatcher neither spins nor runs
# the publisher's callbacks; an invocation in flight while a subscription
# comes and goes is sent once; a function at its limit does not make the
# dispatcher claim in a loop; a payload too large to be wrapped in a
# micro-batch fails with a reason instead of a 413.
use strict;
use warnings;
use File::Spec;
use FindBin;
use lib $FindBin::Bin;
use AwlTap;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(sleep);

sub cpu_ticks { my $pid = shift; open my $f, '<', "/proc/$pid/stat" or return -1; my @s = split ' ', scalar <$f>; return $s[13] + $s[14]; }
sub scans { my $n = shift; return $n->safe_psql('postgres', q{SELECT coalesce(seq_scan,0) + coalesce(idx_scan,0) FROM pg_stat_user_tables WHERE relname = 'awslambda_invocations'}); }
sub measure {
	my ($n, $label) = @_;
	my $pid = awl_dispatcher_pid($n);
	my ($c0, $s0) = (cpu_ticks($pid), scans($n));
	sleep(4);
	my ($c1, $s1) = (cpu_ticks($pid), scans($n));
	diag("$label: dispatcher $pid used " . ($c1 - $c0) . " CPU ticks (1/100 s) and made " . ($s1 - $s0) . " scans of the queue in 4 s");
	return ($c1 - $c0, $s1 - $s0);
}

# A. flow limit: queued rows of a function at its limit
my $a = awl_node('spin', 'awslambda.max_concurrency' => '4', 'awslambda.async_function_limits' => 'lambdaS*=1');
awl_reset_mock($a);
$a->safe_psql('postgres', q{SELECT awslambda_invoke_async('lambdaSleep', '{"seconds": 12, "one": 1}', 'RequestResponse')});
ok($a->poll_query_until('postgres', "SELECT count(*) = 1 FROM awslambda_invocations WHERE status = 'sending'"), 'A: one in flight');
sleep(1);
my ($cpu0, $sc0) = measure($a, 'A baseline (1 in flight, none queued)');
$a->safe_psql('postgres', q{SELECT awslambda_invoke_async('lambdaSleep', '{"seconds": 1, "two": 1}', 'RequestResponse')});
sleep(0.5);
my ($cpu1, $sc1) = measure($a, 'A (1 in flight, 1 queued behind the limit)');
cmp_ok($sc1, '<', 20, 'A: no claim loop while a limited function has rows queued');
$a->stop;

# B. held dispatcher (subscriber): busy loop once its latch is set; callbacks run there
my $pub = awl_node('publisher', allows_streaming => 'logical');
my $sub = awl_node('subscriber');
awl_reset_mock($pub);
for my $node ($pub, $sub)
{
	$node->safe_psql('postgres', q{
		CREATE TABLE cb_log (id uuid, at_node text);
		CREATE FUNCTION public.cb(inv awslambda_invocations) RETURNS void LANGUAGE plpgsql
		  AS $$ BEGIN IF current_setting('cluster_name') = 'publisher' THEN PERFORM pg_sleep(14); END IF;
		  INSERT INTO public.cb_log VALUES (inv.id, current_setting('cluster_name')); END $$;
	});
}
diag('cb oid pub ' . $pub->safe_psql('postgres', "SELECT 'public.cb'::regproc::oid") . ' sub ' . $sub->safe_psql('postgres', "SELECT 'public.cb'::regproc::oid"));
$pub->safe_psql('postgres', 'CREATE PUBLICATION everything FOR ALL TABLES');
my $sub_log_start = -s $sub->logfile;
$sub->safe_psql('postgres',
	"CREATE SUBSCRIPTION blue_green CONNECTION '" . $pub->connstr . " dbname=postgres' PUBLICATION everything");
$pub->wait_for_catchup('blue_green');
$sub->restart;
ok($sub->poll_query_until('postgres',
		"SELECT pg_read_file('" . File::Spec->rel2abs($sub->logfile) . "', $sub_log_start, 1000000) LIKE '%is replicated from a pub' || 'lisher by a subscription%'"),
	'B: subscriber holds off');
sleep(1);
my ($bc0) = measure($sub, 'B held, latch not set');
$sub->safe_psql('postgres', q{SELECT awslambda_fn_async('lambdaTest', '{"local": "subscriber"}')});
my ($bc1) = measure($sub, 'B held, after a local commit set the latch');
cmp_ok($bc1, '<', 50, 'B: a held dispatcher does not spin');
my $cbid = $pub->safe_psql('postgres', q{SELECT awslambda_invoke_async('lambdaTest', '{"cb": 1}', callback => 'public.cb')});
ok($pub->poll_query_until('postgres', "SELECT finished_at IS NOT NULL FROM awslambda_invocations WHERE id = '$cbid'"), 'B: publisher sent it');
$pub->wait_for_catchup('blue_green');
sleep(12);
is($sub->safe_psql('postgres', "SELECT count(*) FROM cb_log WHERE at_node = 'subscriber'"), '0', 'B: no replicated callback ran on the subscriber');
diag('B subscriber row: ' . $sub->safe_psql('postgres', "SELECT callback_done_at IS NOT NULL, callback_error FROM awslambda_invocations WHERE id = '$cbid'"));
$sub->safe_psql('postgres', 'DROP SUBSCRIPTION blue_green');
$sub->stop;

# C. in flight while the queue becomes subscribed and then unsubscribed: recover puts it back
my $c = awl_node('solo');
awl_reset_mock($c);
my $slow = $c->safe_psql('postgres', q{SELECT awslambda_invoke_async('lambdaSleep', '{"seconds": 25, "c": 1}', 'RequestResponse')});
ok($c->poll_query_until('postgres', "SELECT status = 'sending' FROM awslambda_invocations WHERE id = '$slow'"), 'C: in flight');
my $c_log_start = -s $c->logfile;
$pub->safe_psql('postgres', 'CREATE PUBLICATION q FOR TABLE awslambda_invocations');
$c->safe_psql('postgres', "CREATE SUBSCRIPTION s CONNECTION '" . $pub->connstr . " dbname=postgres' PUBLICATION q WITH (copy_data = false)");
my $logf = File::Spec->rel2abs($c->logfile);
ok($c->poll_query_until('postgres', "SELECT pg_read_file('$logf', $c_log_start, 1000000) LIKE '%is replicated from a pub' || 'lisher%'"), 'C: held');
$c->safe_psql('postgres', 'DROP SUBSCRIPTION s');
ok($c->poll_query_until('postgres', "SELECT pg_read_file('$logf', $c_log_start, 1000000) LIKE '%no longer repl' || 'icated%'"), 'C: unheld');
ok(awl_wait_finished($c), 'C: finished');
sleep(2);
diag('C log: ' . join(' | ', grep { /(queued again|replicated)/ && !/statement:/ } split /\n/, slurp_file($c->logfile, $c_log_start)));
is(awl_accepted($c, 'lambdaSleep')->{count}, 1, 'C: the slow invocation reached Lambda once');
diag('C row: ' . $c->safe_psql('postgres', "SELECT status, attempts FROM awslambda_invocations WHERE id = '$slow'"));
$c->stop;
$pub->stop;

# D. a micro-batch of one whose wrapping would pass the Event limit
my $d = awl_node('big', 'awslambda.async_batch_sizes' => 'lambdaTest=10');
awl_reset_mock($d);
my $big = $d->safe_psql('postgres', q{SELECT awslambda_fn_async('lambdaTest', '"' || repeat('x', 1048576 - 40) || '"')});
ok(awl_wait_finished($d), 'D: finished');
like($d->safe_psql('postgres', "SELECT status || ' ' || error_sqlstate || ' ' || last_error || ' ' || error_detail FROM awslambda_invocations WHERE id = '$big'"),
	qr/^failed 22023 the payload of invocation .* is too large for a micro-batch With awslambda.async_batch_sizes, a payload of 1048538 bytes becomes 1048610 bytes/,
	'D: fails with the reason, not sent');
is(awl_accepted($d, 'lambdaTest')->{count} // 0, 0, 'D: nothing reached Lambda');
$d->stop;
done_testing();
